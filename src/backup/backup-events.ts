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
  /** One destination failed (the backup is held elsewhere); `detail`: `{ storage, error }`. */
  CopyFailed: 'backup.copy.failed',
  /** A re-copy put the backup into a destination again; `detail`: `{ storage, from }`. */
  CopyCompleted: 'backup.copy.completed',
} as const;

export interface BackupEvent {
  record: BackupRecord;
  actor?: Actor;
  detail?: Record<string, unknown>;
}
