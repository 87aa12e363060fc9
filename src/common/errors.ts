/** Domain error codes, mapped to HTTP in one place (`DomainExceptionFilter`). */
export enum ErrorCode {
  NotFound = 'NOT_FOUND',
  BadRequest = 'BAD_REQUEST',
  Conflict = 'CONFLICT',
  Forbidden = 'FORBIDDEN',
  Unauthorized = 'UNAUTHORIZED',
  /** The job queue holds as many waiting jobs as it may (429 with Retry-After). */
  QueueFull = 'QUEUE_FULL',
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** When to ask again (HTTP `Retry-After`), for refusals that pass. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string) => new DomainError(ErrorCode.NotFound, what);
export const badRequest = (what: string) => new DomainError(ErrorCode.BadRequest, what);
export const conflict = (what: string) => new DomainError(ErrorCode.Conflict, what);
export const queueFull = (what: string, retryAfterSeconds: number) => new DomainError(ErrorCode.QueueFull, what, retryAfterSeconds);

/** A failure of a child process or database that is worth recording as the job's reason. */
export class EngineError extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
    this.name = 'EngineError';
  }
}
