import { HttpException } from '@nestjs/common';
import { codeForStatus, isErrorCode, type ErrorCode } from '../common/error-codes.js';
import { DomainError } from '../common/errors.js';

/** Exit codes scripts can rely on (sysexits-style where one fits). */
export const Exit = {
  Ok: 0,
  /** The operation ran and failed: backup FAILED/CORRUPTED, restore FAILED, verification not ok. */
  Failed: 1,
  /** The backup is usable but degraded: a destination lacks its copy (a re-copy job repairs it). */
  Degraded: 2,
  /** Bad command line. */
  Usage: 64,
  /** The request was refused: unknown target or backup, missing --confirm, a conflict. */
  Refused: 65,
  /** Redis or the catalog could not be reached. */
  Unavailable: 69,
  /** Refused for now: the job queue is full (QUEUE_MAX_WAITING), or a cleanup is running; try again later. */
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
 * The one table from the library's error codes (`common/error-codes.ts`, the `code` of every API
 * error body) to the CLI's exit codes. Exhaustive by type: a new code must be placed here.
 */
export const EXIT_FOR_CODE: Readonly<Record<ErrorCode, number>> = {
  VALIDATION_FAILED: Exit.Refused,
  INVALID_JSON: Exit.Refused,
  PAYLOAD_TOO_LARGE: Exit.Refused,
  UNSUPPORTED_MEDIA_TYPE: Exit.Refused,
  ROUTE_NOT_FOUND: Exit.Refused,
  AMBIGUOUS_ID: Exit.Usage,
  SERVICE_UNAVAILABLE: Exit.Unavailable,
  INTERNAL: Exit.Failed,
  UNAUTHORIZED: Exit.Refused,
  FORBIDDEN: Exit.Refused,
  NO_BACKUP_ROLE: Exit.Refused,
  TOO_MANY_AUTH_FAILURES: Exit.TryLater,
  CSRF_REJECTED: Exit.Refused,
  ACCOUNT_LOCKED: Exit.TryLater,
  USER_NOT_FOUND: Exit.Refused,
  USER_EXISTS: Exit.Refused,
  API_TOKEN_NOT_FOUND: Exit.Refused,
  TARGET_NOT_FOUND: Exit.Refused,
  TARGET_UNREACHABLE: Exit.Unavailable,
  BACKUP_NOT_FOUND: Exit.Refused,
  BACKUP_NOT_READY: Exit.Refused,
  BACKUP_RUNNING: Exit.Refused,
  BACKUP_PINNED: Exit.Refused,
  BACKUP_DELETED: Exit.Refused,
  ARTIFACT_MISSING: Exit.Refused,
  RESTORE_NOT_FOUND: Exit.Refused,
  RESTORE_IN_PROGRESS: Exit.Refused,
  BACKUP_NOT_RESTORABLE: Exit.Refused,
  RESTORE_DESTINATION_FORBIDDEN: Exit.Refused,
  TABLE_NOT_IN_BACKUP: Exit.Refused,
  SCHEDULE_NOT_FOUND: Exit.Refused,
  SCHEDULE_NAME_TAKEN: Exit.Refused,
  CLEANUP_RUNNING: Exit.TryLater,
  QUEUE_FULL: Exit.TryLater,
  QUEUE_UNAVAILABLE: Exit.Unavailable,
  QUEUE_BUSY: Exit.TryLater,
  STORAGE_REFUSED: Exit.Refused,
  STORAGE_NOT_FOUND: Exit.Refused,
  STORAGE_UNAVAILABLE: Exit.Unavailable,
  CHANNEL_NOT_FOUND: Exit.Refused,
  CHANNEL_NAME_TAKEN: Exit.Refused,
  CHANNEL_READ_ONLY: Exit.Refused,
};

/** The exit code and message for anything a command throws. */
export function describeFailure(err: unknown): { code: number; message: string } {
  const message = (err as Error)?.message ?? String(err);
  if (err instanceof CliError) return { code: err.code, message };
  if (err instanceof DomainError) return { code: EXIT_FOR_CODE[err.code], message };
  if (err instanceof HttpException) {
    // Nest's own exceptions (a pipe, a guard): by the body's code, else by the status.
    const body = err.getResponse() as { message?: unknown; code?: unknown } | string;
    const code = typeof body === 'object' && isErrorCode(body.code) ? body.code : codeForStatus(err.getStatus());
    const text = typeof body === 'object' && body.message !== undefined ? [body.message].flat().join('; ') : message;
    return { code: EXIT_FOR_CODE[code], message: text };
  }
  return { code: Exit.Failed, message };
}
