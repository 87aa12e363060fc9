import type { EventEmitter2 } from '@nestjs/event-emitter';
import { In, IsNull, Not, type Repository } from 'typeorm';
import type { Actor } from '../auth/roles.js';
import type { ArtifactStorage } from '../storage/storage.interface.js';
import { manifestKey } from './artifact-name.js';
import { BackupEvents, type BackupEvent } from './backup-events.js';
import { BackupRecord, BackupStatus } from './entities/backup-record.entity.js';

const ACTIVE = [BackupStatus.Queued, BackupStatus.Running];

/**
 * Deletes many settled backups the way `BackupsService.delete(id, true)` deletes one (artifact and
 * manifest first, then the record's soft delete, then a `backup.deleted` event each), with one
 * read and one conditional update for them all instead of three statements per backup: what a
 * retention cleanup of a large catalog needs. A backup that is pinned, QUEUED or RUNNING, or
 * gone, by now is skipped with the reason; so is one whose files could not be removed.
 */
export async function deleteSettled(
  deps: { records: Repository<BackupRecord>; storage: ArtifactStorage; events: EventEmitter2 },
  ids: string[],
  actor?: Actor,
): Promise<{ deleted: string[]; skipped: Array<{ id: string; reason: string }> }> {
  const found = new Map((await deps.records.find({ where: { id: In(ids) } })).map((r) => [r.id, r]));
  const skipped: Array<{ id: string; reason: string }> = [];
  const ready: BackupRecord[] = [];
  for (const id of ids) {
    const r = found.get(id);
    if (!r) skipped.push({ id, reason: `Backup ${id} not found (deleted meanwhile)` });
    else if (r.pinned) skipped.push({ id, reason: `Backup ${id} is pinned; unpin it before deleting it` });
    else if (ACTIVE.includes(r.status)) skipped.push({ id, reason: `Backup ${id} is ${r.status.toLowerCase()}; wait for it to finish before deleting it` });
    else ready.push(r);
  }
  const gone: BackupRecord[] = [];
  for (const r of ready) {
    try {
      if (r.fileKey) {
        await deps.storage.delete(r.fileKey);
        await deps.storage.delete(manifestKey(r.fileKey));
      }
      gone.push(r);
    } catch (e) {
      skipped.push({ id: r.id, reason: (e as Error).message });
    }
  }
  if (!gone.length) return { deleted: [], skipped };
  // Only what is still unpinned and settled: a pin or a new attempt since the read wins.
  await deps.records.softDelete({ id: In(gone.map((r) => r.id)), pinned: false, status: Not(In(ACTIVE)), deletedAt: IsNull() });
  const now = new Map(
    (await deps.records.find({ where: { id: In(gone.map((r) => r.id)) }, withDeleted: true, select: { id: true, deletedAt: true } })).map((r) => [r.id, r.deletedAt]),
  );
  const deleted: string[] = [];
  for (const r of gone) {
    const at = now.get(r.id);
    if (!at) {
      skipped.push({ id: r.id, reason: `Backup ${r.id} was pinned or started again while it was being deleted; its files are gone` });
      continue;
    }
    deleted.push(r.id);
    deps.events.emit(BackupEvents.Deleted, { record: Object.assign(r, { deletedAt: at }), actor, detail: { hard: true } } satisfies BackupEvent);
  }
  return { deleted, skipped };
}
