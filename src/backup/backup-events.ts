import type { BackupRecord } from './entities/backup-record.entity.js';
import type { Actor } from '../auth/roles.js';

/** Domain events the backup module emits (through @nestjs/event-emitter). */
export const BackupEvents = {
  Requested: 'backup.requested',
  Started: 'backup.started',
  Completed: 'backup.completed',
  Failed: 'backup.failed',
  Deleted: 'backup.deleted',
  Downloaded: 'backup.downloaded',
  /** Retention keeps it and DELETE refuses it. */
  Pinned: 'backup.pinned',
  Unpinned: 'backup.unpinned',
} as const;

export interface BackupEvent {
  record: BackupRecord;
  actor?: Actor;
  detail?: Record<string, unknown>;
}
