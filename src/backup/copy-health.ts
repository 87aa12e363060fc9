import { READABLE_COPY_STATES, type BackupCopy, type CopyState } from './entities/backup-copy.entity.js';
import { isGood } from './good-backup.js';

/** A destination that does not hold a good copy of a usable backup. */
export interface LackingCopy {
  storage: string;
  state: CopyState;
}

/**
 * The destinations a usable backup (COMPLETED or VERIFIED) was written to whose copy FAILED, went
 * MISSING or was found CORRUPTED. With any, the backup is *degraded*: it restores from the other
 * copies, a re-copy job repairs the rest, and every place that shows its status says so beside
 * it. A backup in any other status is never degraded (it is not usable, or not yet). Records made
 * before destinations have no copies and are not degraded.
 */
export function lackingCopies(record: { status: string }, copies: ReadonlyArray<Pick<BackupCopy, 'storage' | 'state'>> | undefined): LackingCopy[] {
  if (!copies || !isGood(record)) return [];
  return copies.filter((c) => !READABLE_COPY_STATES.includes(c.state)).map(({ storage, state }) => ({ storage, state }));
}

/** The status as people read it: `COMPLETED`, or `COMPLETED, degraded (offsite FAILED)`. */
export function statusLine(record: { status: string }, copies: ReadonlyArray<Pick<BackupCopy, 'storage' | 'state'>> | undefined): string {
  const lacking = lackingCopies(record, copies);
  return lacking.length ? `${record.status}, degraded (${lacking.map((c) => `${c.storage} ${c.state}`).join(', ')})` : record.status;
}
