import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ErrorResponse } from '../backup/dto/backup-response.dto.js';
import { ERROR_STATUS, errorBody, ErrorCode } from './error-codes.js';

/** A message each code's documented example shows: what a client really reads in that case. */
const EXAMPLE_MESSAGE: Readonly<Record<ErrorCode, string>> = {
  VALIDATION_FAILED: 'type must be one of: manual, daily, weekly, monthly',
  INVALID_JSON: 'The request body is not valid JSON (Unexpected end of JSON input); send a JSON object with Content-Type: application/json',
  PAYLOAD_TOO_LARGE: 'The request body is larger than the limit of 102400 bytes (HTTP_BODY_LIMIT_KB)',
  UNSUPPORTED_MEDIA_TYPE: 'The request body was sent with Content-Type "text/plain"; send it as JSON with the header Content-Type: application/json',
  ROUTE_NOT_FOUND: 'Cannot GET /api/v1/nope',
  AMBIGUOUS_ID: 'The short id 3f2a9c1b matches 2 backups (3f2a9c1b-…, 3f2a9c1b-…); give more characters or the full id',
  SERVICE_UNAVAILABLE: 'Service Unavailable',
  INTERNAL: 'Internal error (correlation id 1b4e28ba-2fa1-11d2-883f-0016d3cca427)',
  UNAUTHORIZED: 'Missing bearer token (Authorization: Bearer <jwt>)',
  FORBIDDEN: 'This action needs the operator role; your token has viewer',
  NO_BACKUP_ROLE: 'This user has no backup-manager role; the host app grants one through auth.actorFromRequest',
  TOO_MANY_AUTH_FAILURES: 'Too many failed authentications from this client; retry in 60 s',
  CSRF_REJECTED: 'This change was sent with the session cookie but without its CSRF token: send the bm_csrf cookie\'s value in the X-CSRF-Token header',
  ACCOUNT_LOCKED: 'Too many wrong passwords for this account; it is locked, retry in 120 s',
  USER_NOT_FOUND: 'No user "alice"',
  USER_EXISTS: 'A user "alice" already exists',
  API_TOKEN_NOT_FOUND: 'API token 5d2c8e0a-1f3b-4a6c-9e7d-2b4f6a8c0e1d not found',
  TARGET_NOT_FOUND: 'Unknown target "nope" (known targets: app)',
  TARGET_UNREACHABLE: 'Could not read the tables of target "app" to check the request (try again later): connect ECONNREFUSED 127.0.0.1:5432',
  BACKUP_NOT_FOUND: 'Backup 3f2a9c1b-0c4e-4d4f-9a57-5f1f0e3b2a10 not found',
  BACKUP_NOT_READY: 'Backup 3f2a9c1b-0c4e-4d4f-9a57-5f1f0e3b2a10 is FAILED; only COMPLETED or VERIFIED backups can be downloaded',
  BACKUP_RUNNING: 'Backup 3f2a9c1b-0c4e-4d4f-9a57-5f1f0e3b2a10 is running; wait for it to finish before deleting it',
  BACKUP_PINNED: 'Backup 3f2a9c1b-0c4e-4d4f-9a57-5f1f0e3b2a10 is pinned; unpin it before deleting it',
  BACKUP_DELETED: 'Backup 3f2a9c1b-0c4e-4d4f-9a57-5f1f0e3b2a10 is deleted; it cannot be restored',
  ARTIFACT_MISSING: 'The artifact of backup 3f2a9c1b-0c4e-4d4f-9a57-5f1f0e3b2a10 is missing from storage',
  RESTORE_NOT_FOUND: 'Restore 7c9e6679-7425-40de-944b-e07fc1f90ae7 not found',
  RESTORE_IN_PROGRESS: 'Restore 7c9e6679-7425-40de-944b-e07fc1f90ae7 of database "app" (target app) is RUNNING; wait for it to finish',
  BACKUP_NOT_RESTORABLE: 'Backup 3f2a9c1b-0c4e-4d4f-9a57-5f1f0e3b2a10 is CORRUPTED; pass force: true to restore it anyway',
  RESTORE_DESTINATION_FORBIDDEN: 'Refusing to restore: "postgres" is a system database',
  TABLE_NOT_IN_BACKUP: 'Backup 3f2a9c1b-0c4e-4d4f-9a57-5f1f0e3b2a10 holds no table "ordrs"; it holds: customers, orders, sales.items',
  SCHEDULE_NOT_FOUND: 'Schedule 9b2d1c3e-5f6a-4b7c-8d9e-0f1a2b3c4d5e not found',
  SCHEDULE_NAME_TAKEN: 'A schedule named "nightly" already exists',
  CLEANUP_RUNNING: 'A retention cleanup is already running (started by cron at 2026-01-01T03:00:00.000Z); ask again when it has ended, or use dryRun to see what it will delete',
  QUEUE_FULL: 'The job queue is full: 1000 jobs are waiting for a worker and at most 1000 may (QUEUE_MAX_WAITING). The backup was not queued; try again in 60 seconds',
  QUEUE_UNAVAILABLE: 'The job queue (Redis) is unavailable; the backup was not started',
  QUEUE_BUSY: 'Another identical request is still being queued; try again',
  STORAGE_REFUSED: 'Storage directory contains a symlink; refusing to follow it',
  STORAGE_NOT_FOUND: 'No storage named "nope"; configured: local, offsite',
  STORAGE_UNAVAILABLE: 'storage "offsite" (s3://backups/prod/ at https://s3.example.com (eu-west-1)) refused the credentials; check BACKUP_STORAGE_OFFSITE_ACCESS_KEY_ID and BACKUP_STORAGE_OFFSITE_SECRET_ACCESS_KEY_FILE',
  CHANNEL_NOT_FOUND: 'Channel 5d0c2a7e-8f1b-4c3d-9e2f-1a2b3c4d5e6f not found',
  CHANNEL_NAME_TAKEN: 'A channel named "ops-mail" already exists',
  CHANNEL_READ_ONLY: 'Channel "ops-mail" comes from the configuration (NOTIFY_CHANNELS or notifications.channels) and cannot be changed through the API; change the configuration instead',
};

/** What each status means in general, before the codes that say which case it is. */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Invalid request',
  401: 'Missing, invalid or expired token',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflicts with the current state',
  413: 'Body too large',
  415: 'Body not sent as JSON',
  429: 'Refused for now; the Retry-After header says when to ask again',
  503: 'A dependency is unavailable; nothing was recorded',
};

/** The codes every route with a JSON body can answer besides its own. */
export const BODY_ERRORS: readonly ErrorCode[] = [ErrorCode.ValidationFailed, ErrorCode.InvalidJson, ErrorCode.PayloadTooLarge, ErrorCode.UnsupportedMediaType];

/** The codes every authenticated route can answer. */
export const AUTH_ERRORS: readonly ErrorCode[] = [ErrorCode.Unauthorized, ErrorCode.Forbidden, ErrorCode.TooManyFailures];

/**
 * Documents the error responses a route can return, one response per status, with one example
 * body per code (the real body a client gets). `notes` adds route-specific detail per code.
 */
export function ApiErrors(codes: readonly ErrorCode[], notes: Partial<Record<ErrorCode, string>> = {}): MethodDecorator & ClassDecorator {
  const all = new Set(codes);
  // A route's own 429 replaces the class-level one: keep the auth limiter's code in it.
  if ([...all].some((c) => ERROR_STATUS[c] === 429)) all.add(ErrorCode.TooManyFailures);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of all) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return applyDecorators(
    ApiExtraModels(ErrorResponse),
    ...[...byStatus].map(([status, list]) =>
      ApiResponse({
        status,
        description: `${STATUS_TEXT[status] ?? 'Error'}: ${list.map((c) => (notes[c] ? `\`${c}\` (${notes[c]})` : `\`${c}\``)).join(', ')}`,
        // Always JSON, also on routes that produce something else (the download).
        content: {
          'application/json': {
            schema: { $ref: getSchemaPath(ErrorResponse) },
            examples: Object.fromEntries(list.map((c) => [c, { summary: notes[c] ?? c, value: errorBody(c, EXAMPLE_MESSAGE[c]) }])),
          },
        },
      }),
    ),
  ) as MethodDecorator & ClassDecorator;
}
