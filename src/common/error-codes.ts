import { STATUS_CODES } from 'node:http';

/**
 * The stable `code` of every error the API answers, one enum per module and one table mapping
 * each code to its HTTP status. Clients (and the CLI's exit codes) branch on `code`, never on
 * the message text. Add a code here, never reuse one for a different meaning.
 */

/** Request-level problems, whichever route they reach. */
export enum RequestErrorCode {
  /** A field, query or path parameter breaks its rule; `message` names it and says what to send. */
  ValidationFailed = 'VALIDATION_FAILED',
  /** The body is not JSON, or nested too deeply. */
  InvalidJson = 'INVALID_JSON',
  /** The body is larger than HTTP_BODY_LIMIT_KB. */
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  /** The body is not sent as `Content-Type: application/json`. */
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  /** No route for this method and path. */
  RouteNotFound = 'ROUTE_NOT_FOUND',
  /** A short id matches more than one record: give more characters or the full id. */
  AmbiguousId = 'AMBIGUOUS_ID',
  /** A dependency the request needs is down; try again later. */
  ServiceUnavailable = 'SERVICE_UNAVAILABLE',
  /** Anything unexpected; the body holds a correlation id that the log repeats. */
  Internal = 'INTERNAL',
}

export enum AuthErrorCode {
  /** No, an invalid or an expired token (or the host authenticated nobody). */
  Unauthorized = 'UNAUTHORIZED',
  /** Authenticated, but the role is too low for the route. */
  Forbidden = 'FORBIDDEN',
  /** Authenticated by the host app, which maps this user to no library role (deny by default). */
  NoBackupRole = 'NO_BACKUP_ROLE',
  /** Refused too often in a window; `Retry-After` says when to try again. */
  TooManyFailures = 'TOO_MANY_AUTH_FAILURES',
}

export enum AccountErrorCode {
  /** A cookie-authenticated change without the session's CSRF token (`X-CSRF-Token`), or from another origin. */
  CsrfRejected = 'CSRF_REJECTED',
  /** Too many wrong passwords for this account; `Retry-After` says when it may log in again. */
  AccountLocked = 'ACCOUNT_LOCKED',
  UserNotFound = 'USER_NOT_FOUND',
  UserExists = 'USER_EXISTS',
  ApiTokenNotFound = 'API_TOKEN_NOT_FOUND',
}

export enum TargetErrorCode {
  TargetNotFound = 'TARGET_NOT_FOUND',
  /** The target's database could not be reached or refused the connection. */
  TargetUnreachable = 'TARGET_UNREACHABLE',
}

export enum BackupErrorCode {
  BackupNotFound = 'BACKUP_NOT_FOUND',
  /** The backup is not in a state that allows the action (e.g. download of a FAILED backup). */
  BackupNotReady = 'BACKUP_NOT_READY',
  BackupRunning = 'BACKUP_RUNNING',
  BackupPinned = 'BACKUP_PINNED',
  BackupDeleted = 'BACKUP_DELETED',
  /** The catalog has the backup, storage has no file for it. */
  ArtifactMissing = 'ARTIFACT_MISSING',
}

export enum RestoreErrorCode {
  RestoreNotFound = 'RESTORE_NOT_FOUND',
  /** Another restore of the same physical database is queued or running. */
  RestoreInProgress = 'RESTORE_IN_PROGRESS',
  /** The backup cannot be restored or verified as asked (status, deleted, holds no schema, ...). */
  BackupNotRestorable = 'BACKUP_NOT_RESTORABLE',
  /** The destination is one no restore may write (system database, scratch name, unrelated database). */
  DestinationForbidden = 'RESTORE_DESTINATION_FORBIDDEN',
  /** A table-level restore names a table the backup does not hold. */
  TableNotInBackup = 'TABLE_NOT_IN_BACKUP',
}

export enum ScheduleErrorCode {
  ScheduleNotFound = 'SCHEDULE_NOT_FOUND',
  ScheduleNameTaken = 'SCHEDULE_NAME_TAKEN',
  /** A retention cleanup (cron, API or another replica) is running; ask again when it has ended. */
  CleanupRunning = 'CLEANUP_RUNNING',
}

export enum QueueErrorCode {
  /** QUEUE_MAX_WAITING jobs wait already; `Retry-After` says when to ask again. Nothing was recorded. */
  QueueFull = 'QUEUE_FULL',
  /** Redis cannot be reached; nothing was recorded. */
  QueueUnavailable = 'QUEUE_UNAVAILABLE',
  /** An identical request is still being queued by someone else. */
  QueueBusy = 'QUEUE_BUSY',
}

export enum StorageErrorCode {
  /** An artifact key or storage path that storage refuses (outside the root, a symlink, ...). */
  StorageRefused = 'STORAGE_REFUSED',
  /** No destination of that name is configured (BACKUP_STORAGE_<NAME>_URL). */
  StorageNotFound = 'STORAGE_NOT_FOUND',
  /** A destination could not be reached, or refused the credentials; `message` says which. */
  StorageUnavailable = 'STORAGE_UNAVAILABLE',
}

export enum NotificationErrorCode {
  ChannelNotFound = 'CHANNEL_NOT_FOUND',
  ChannelNameTaken = 'CHANNEL_NAME_TAKEN',
  /** The channel comes from the configuration (NOTIFY_CHANNELS / notifications.channels); change it there. */
  ChannelReadOnly = 'CHANNEL_READ_ONLY',
}

/** Every code the API can answer. */
export const ErrorCode = {
  ...RequestErrorCode,
  ...AuthErrorCode,
  ...AccountErrorCode,
  ...TargetErrorCode,
  ...BackupErrorCode,
  ...RestoreErrorCode,
  ...ScheduleErrorCode,
  ...QueueErrorCode,
  ...StorageErrorCode,
  ...NotificationErrorCode,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The HTTP status of each code: the one mapping, exhaustive by type. */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ROUTE_NOT_FOUND: 404,
  AMBIGUOUS_ID: 409,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL: 500,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NO_BACKUP_ROLE: 403,
  TOO_MANY_AUTH_FAILURES: 429,
  CSRF_REJECTED: 403,
  ACCOUNT_LOCKED: 429,
  USER_NOT_FOUND: 404,
  USER_EXISTS: 409,
  API_TOKEN_NOT_FOUND: 404,
  TARGET_NOT_FOUND: 404,
  TARGET_UNREACHABLE: 503,
  BACKUP_NOT_FOUND: 404,
  BACKUP_NOT_READY: 409,
  BACKUP_RUNNING: 409,
  BACKUP_PINNED: 409,
  BACKUP_DELETED: 409,
  ARTIFACT_MISSING: 409,
  RESTORE_NOT_FOUND: 404,
  RESTORE_IN_PROGRESS: 409,
  BACKUP_NOT_RESTORABLE: 409,
  RESTORE_DESTINATION_FORBIDDEN: 403,
  TABLE_NOT_IN_BACKUP: 400,
  SCHEDULE_NOT_FOUND: 404,
  SCHEDULE_NAME_TAKEN: 409,
  CLEANUP_RUNNING: 409,
  QUEUE_FULL: 429,
  QUEUE_UNAVAILABLE: 503,
  QUEUE_BUSY: 503,
  STORAGE_REFUSED: 400,
  STORAGE_NOT_FOUND: 404,
  STORAGE_UNAVAILABLE: 503,
  CHANNEL_NOT_FOUND: 404,
  CHANNEL_NAME_TAKEN: 409,
  CHANNEL_READ_ONLY: 409,
};

/** Every code, for clients that map them (the CLI's exit codes). */
export const ERROR_CODES: readonly ErrorCode[] = Object.keys(ERROR_STATUS) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}

/** The one error body of the API: `{ statusCode, code, error, message }` (plus `correlationId` on a 500). */
export interface ErrorBody {
  statusCode: number;
  /** Stable, from `ErrorCode`. */
  code: ErrorCode;
  /** The HTTP reason phrase (`Not Found`). */
  error: string;
  /** What went wrong and how to fix it; a list when several fields are wrong. */
  message: string | string[];
  correlationId?: string;
}

export function errorBody(code: ErrorCode, message: string | string[], statusCode = ERROR_STATUS[code]): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** The code for an error body that came without one (Nest's own exceptions), from its status. */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return ErrorCode.ValidationFailed;
    case 401:
      return ErrorCode.Unauthorized;
    case 403:
      return ErrorCode.Forbidden;
    case 404:
      return ErrorCode.RouteNotFound;
    case 413:
      return ErrorCode.PayloadTooLarge;
    case 415:
      return ErrorCode.UnsupportedMediaType;
    case 429:
      return ErrorCode.TooManyFailures;
    case 503:
      return ErrorCode.ServiceUnavailable;
    default:
      return ErrorCode.Internal;
  }
}
