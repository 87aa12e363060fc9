import { ERROR_STATUS, ErrorCode } from './error-codes.js';

export { ErrorCode } from './error-codes.js';

/**
 * A refusal with a stable code (see `error-codes.ts`). Services throw these and nothing from
 * Nest or BullMQ; the library's controllers turn them into `HttpException`s, the CLI into exit codes.
 */
export class DomainError extends Error {
  /** When to ask again (HTTP `Retry-After`), for refusals that pass. */
  readonly retryAfterSeconds?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: { retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'DomainError';
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** A request field that breaks a rule only the service can check: 400 VALIDATION_FAILED. */
export const invalid = (what: string) => new DomainError(ErrorCode.ValidationFailed, what);
export const queueFull = (what: string, retryAfterSeconds: number) => new DomainError(ErrorCode.QueueFull, what, { retryAfterSeconds });

/** A failure of a child process or database that is worth recording as the job's reason. */
export class EngineError extends Error {
  /** Whether another attempt may succeed (a dropped connection) or not (a bad password, a missing table). */
  readonly retryable: boolean;

  constructor(message: string, opts: { retryable: boolean }) {
    super(message);
    this.name = 'EngineError';
    this.retryable = opts.retryable;
  }
}
