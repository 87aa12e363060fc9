/**
 * Public API of backup-manager as a library: the module and its options, the catalog's entities
 * and migrations for a host's DataSource, service facades, DTOs and domain events.
 */
export {
  BackupManagerModule,
  BACKUP_MANAGER_MODULE_OPTIONS,
  BackupManagerWorkerModule,
  BACKUP_MANAGER_WORKER_OPTIONS,
  type BackupManagerAsyncOptions,
  type BackupManagerForRootOptions,
  type BackupManagerWorkerAsyncOptions,
  type BackupManagerWorkerExtras,
  type BackupManagerWorkerForRootOptions,
} from './backup-manager.module.js';
export type { BackupManagerExtras, BackupManagerModuleOptions, DataSourceTargetOptions, HostAuthOptions } from './config/module-options.js';
export { targetFromDataSource } from './config/module-options.js';
export { validateOptions, type OptionProblem } from './config/validate-options.js';
export {
  BACKUP_MANAGER_OPTIONS,
  type AuthOptions,
  type BackupManagerOptions,
  type CatalogOptions,
  type Compression,
  type EngineKind,
  type RetentionPolicy,
  type SchedulerOptions,
  type TargetOptions,
  type NotificationOptions,
  DEFAULT_QUEUE_MAX_WAITING,
  DEFAULT_SCHEDULE_MIN_INTERVAL_MINUTES,
} from './config/options.js';

// Catalog: `catalog: { dataSource }` keeps it in the host's database, under its own connection.
export { DEFAULT_TABLE_PREFIX } from './catalog/entities.js';
export { CATALOG_CONNECTION } from './catalog/catalog.js';

// Service facades.
export { BackupsService, type BackupRequest, type BackupSubmission } from './backup/backups.service.js';
export { RestoresService, RestoresService as RestoreService, type RestoreRequest, type VerifyRequested } from './restore/restores.service.js';
// What "good" and "the newest good backup of a target" mean, for host code.
export { holdsData, isGood, isGoodDataBackup } from './backup/good-backup.js';
export { RetentionService, type CleanupResult } from './scheduler/retention.service.js';
export { SchedulesService } from './scheduler/schedules.service.js';

// Entities and statuses.
export { BackupRecord, BackupStatus, BackupType } from './backup/entities/backup-record.entity.js';
export { RestoreRun, RestoreStatus } from './restore/entities/restore-run.entity.js';

// Errors the facades throw (e.g. ErrorCode.QueueFull with retryAfterSeconds when the queue is full),
// and the stable `code` of every HTTP error body with its status.
export { DomainError, EngineError } from './common/errors.js';
export {
  AuthErrorCode,
  BackupErrorCode,
  ERROR_CODES,
  ERROR_STATUS,
  ErrorCode,
  QueueErrorCode,
  RequestErrorCode,
  RestoreErrorCode,
  ScheduleErrorCode,
  StorageErrorCode,
  TargetErrorCode,
  NotificationErrorCode,
  type ErrorBody,
} from './common/error-codes.js';
export { ApiExceptionFilter } from './common/http-exception.filter.js';

// Domain events (`@OnEvent(BackupEvents.Completed)` in a host).
export { BackupEvents, type BackupEvent } from './backup/backup-events.js';
export { isRelayedEvent, RELAYED_EVENTS } from './common/event-relay.js';
export { RestoreEvents, VerifyEvents, type RestoreEvent } from './restore/restore-events.js';

// Notifications: channels, deliveries, alert conditions; `alert.raised` / `alert.resolved` events.
export { AlertsService } from './notifications/alerts.service.js';
export { ChannelsService } from './notifications/channels.service.js';
export { AlertEvents, NOTIFICATION_EVENTS, type NotificationEvent } from './notifications/notification-events.js';
export type { Notice } from './notifications/notice.js';
export type { ChannelConfig, ChannelKind } from './notifications/channel-kinds.js';
export { SIGNATURE_HEADER, TIMESTAMP_HEADER, signature as webhookSignature } from './notifications/payloads.js';

// DTOs.
export { CreateBackupDto } from './backup/dto/create-backup.dto.js';
export { ListBackupsQuery } from './backup/dto/list-backups.dto.js';
export { BackupPage, BackupResponse, ErrorResponse } from './backup/dto/backup-response.dto.js';
export { RestoreBackupDto, RestoreRunResponse, VerifyBackupDto } from './restore/dto/restore.dto.js';

// Auth: roles the library's routes check, the built-in guard and tokens for it.
export { Role, MinRole, type Actor } from './auth/roles.js';
export { AuthGuard } from './auth/auth.guard.js';
export { signToken } from './auth/token-verifier.js';
