import { HttpException } from '@nestjs/common';
import { DomainError, ErrorCode } from '../common/errors.js';

/** Exit codes scripts can rely on (sysexits-style where one fits). */
export const Exit = {
  Ok: 0,
  /** The operation ran and failed: backup FAILED/CORRUPTED, restore FAILED, verification not ok. */
  Failed: 1,
  /** Bad command line. */
  Usage: 64,
  /** The request was refused: unknown target or backup, missing --confirm, a conflict. */
  Refused: 65,
  /** Redis or the catalog could not be reached. */
  Unavailable: 69,
  /** Refused for now: the job queue is full (QUEUE_MAX_WAITING); try again later. */
  TryLater: 75,
  /** Invalid configuration (environment). */
  Config: 78,
  /** Interrupted (SIGINT/SIGTERM). */
  Interrupted: 130,
} as const;

/** An error the CLI reports as `backup-manager: <message>` on stderr, exiting with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** A bad command line (exit 64). Say what to change. */
export const usageError = (message: string) => new CliError(message, Exit.Usage);

/**
 * The one table from what the library refuses with to the CLI's exit code: by the error's stable
 * code where it has one, else by its HTTP status.
 */
const EXIT_BY_CODE: Record<string, number> = {
  [ErrorCode.QueueFull]: Exit.TryLater,
  [ErrorCode.NotFound]: Exit.Refused,
  [ErrorCode.BadRequest]: Exit.Refused,
  [ErrorCode.Conflict]: Exit.Refused,
  [ErrorCode.Forbidden]: Exit.Refused,
  [ErrorCode.Unauthorized]: Exit.Refused,
};

function exitForStatus(status: number): number {
  if (status === 429) return Exit.TryLater;
  if (status === 503) return Exit.Unavailable;
  if (status >= 400 && status < 500) return Exit.Refused;
  return Exit.Failed;
}

/** The exit code and message for anything a command throws. */
export function describeFailure(err: unknown): { code: number; message: string } {
  const message = (err as Error)?.message ?? String(err);
  if (err instanceof CliError) return { code: err.code, message };
  if (err instanceof DomainError) return { code: EXIT_BY_CODE[err.code] ?? Exit.Refused, message };
  if (err instanceof HttpException) {
    const body = err.getResponse() as { message?: unknown; code?: unknown } | string;
    const code = typeof body === 'object' && typeof body.code === 'string' ? EXIT_BY_CODE[body.code] : undefined;
    const text = typeof body === 'object' && body.message !== undefined ? [body.message].flat().join('; ') : message;
    return { code: code ?? exitForStatus(err.getStatus()), message: text };
  }
  return { code: Exit.Failed, message };
}
