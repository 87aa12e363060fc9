/** Domain error codes, mapped to HTTP in one place (`DomainExceptionFilter`). */
export enum ErrorCode {
  NotFound = 'NOT_FOUND',
  BadRequest = 'BAD_REQUEST',
  Conflict = 'CONFLICT',
  Forbidden = 'FORBIDDEN',
  Unauthorized = 'UNAUTHORIZED',
}

export class DomainError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string) => new DomainError(ErrorCode.NotFound, what);
export const badRequest = (what: string) => new DomainError(ErrorCode.BadRequest, what);
export const conflict = (what: string) => new DomainError(ErrorCode.Conflict, what);

/** A failure of a child process or database that is worth recording as the job's reason. */
export class EngineError extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
    this.name = 'EngineError';
  }
}
