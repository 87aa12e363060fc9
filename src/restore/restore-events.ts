import type { Actor } from '../auth/roles.js';
import type { RestoreRun } from './entities/restore-run.entity.js';

/** Domain events of restores (through @nestjs/event-emitter). */
export const RestoreEvents = {
  Requested: 'restore.requested',
  Started: 'restore.started',
  Completed: 'restore.completed',
  Failed: 'restore.failed',
  Cancelled: 'restore.cancelled',
} as const;

/**
 * Verification events; their payload is a `BackupEvent` (`record`, `actor`, `detail` holding the
 * verification result).
 */
export const VerifyEvents = {
  Requested: 'backup.verify.requested',
  Verified: 'backup.verified',
  Corrupted: 'backup.corrupted',
} as const;

export interface RestoreEvent {
  run: RestoreRun;
  actor?: Actor;
  detail?: Record<string, unknown>;
}
