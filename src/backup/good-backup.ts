import { In, type FindOptionsOrder, type FindOptionsWhere, type Repository } from 'typeorm';
import { GOOD_BACKUP_STATUSES, type BackupRecord } from './entities/backup-record.entity.js';

/**
 * What "a good backup" and "the newest good backup of a target" mean, in one place. Retention,
 * freshness (health, system info, metrics), the scheduled drills and host code all ask here.
 */

/** A backup whose artifact is usable: COMPLETED or VERIFIED. */
export function isGood(r: { status: string }): boolean {
  return (GOOD_BACKUP_STATUSES as readonly string[]).includes(r.status);
}

/**
 * A backup that can bring a whole database back: scope `full`, with schema and data. Schema-only,
 * data-only, partial and selective backups are useful, but none of them is a copy of the database.
 */
export function holdsData(r: { scope: string; includeSchema: boolean; includeData: boolean }): boolean {
  return r.scope === 'full' && !!r.includeSchema && !!r.includeData;
}

/** A good backup that holds the whole database: what "last good" and freshness count. */
export function isGoodDataBackup(r: { status: string; scope: string; includeSchema: boolean; includeData: boolean }): boolean {
  return isGood(r) && holdsData(r);
}

/** What orders backups newest first: creation time, then start time, then id (catalogs may store whole seconds). */
export interface Chronology {
  id: string;
  createdAt: Date;
  startedAt?: Date | null;
}

/** Newest first, the same order as `NEWEST_FIRST` in the catalog. */
export function newestFirst(a: Chronology, b: Chronology): number {
  return (
    b.createdAt.getTime() - a.createdAt.getTime() ||
    (b.startedAt?.getTime() ?? 0) - (a.startedAt?.getTime() ?? 0) ||
    (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
  );
}

/** The catalog order of `newestFirst`. NOTE: NULL start times sort differently per engine; good backups always have one. */
export const NEWEST_FIRST: FindOptionsOrder<BackupRecord> = { createdAt: 'DESC', startedAt: 'DESC', id: 'DESC' };

/** Catalog filter of `isGoodDataBackup` for one target (soft-deleted records never match). */
export function goodDataWhere(target: string): FindOptionsWhere<BackupRecord> {
  return { target, status: In([...GOOD_BACKUP_STATUSES]) as FindOptionsWhere<BackupRecord>['status'], scope: 'full', includeSchema: true, includeData: true };
}

/** The newest good backup of a target that holds its data (see `isGoodDataBackup`), or null. */
export function findNewestGood(records: Repository<BackupRecord>, target: string): Promise<BackupRecord | null> {
  return records.findOne({ where: goodDataWhere(target), order: NEWEST_FIRST });
}
