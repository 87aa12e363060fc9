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
export async function findNewestGood(records: Repository<BackupRecord>, target: string): Promise<BackupRecord | null> {
  return (await findNewestGoodOfEach(records, [target]))[0] ?? null;
}

/** Statements of at most this many targets each (SQLite allows 500 parts in a UNION). */
const TARGETS_PER_STATEMENT = 100;

/**
 * `findNewestGood` for each of `targets` (those without one are left out), in one statement per
 * 100 targets plus one that loads the records. Each target's part takes its two newest good
 * records in list order (`createdAt`, `id`): a walk of its list index that stops at the second
 * match. `NEWEST_FIRST` also orders by `startedAt`, which no index holds; in one ORDER BY with it
 * MySQL/MariaDB sorted every record of the target (5 ms each at 2,000 records, 310 ms a
 * `/metrics` scrape at 100k). Only when the two share a creation time (a catalog may keep whole
 * seconds) does the tie-break need more rows: then that target is asked on its own, in full order.
 */
export async function findNewestGoodOfEach(records: Repository<BackupRecord>, targets: string[]): Promise<BackupRecord[]> {
  const out: BackupRecord[] = [];
  for (let i = 0; i < targets.length; i += TARGETS_PER_STATEMENT) out.push(...(await newestGoodOf(records, targets.slice(i, i + TARGETS_PER_STATEMENT))));
  return out;
}

async function newestGoodOf(records: Repository<BackupRecord>, targets: string[]): Promise<BackupRecord[]> {
  if (!targets.length) return [];
  const [sql, params] = newestGoodQuery(records, targets);
  const ids = ((await records.query(sql, params)) as Array<{ id: string }>).map((r) => r.id);
  if (!ids.length) return [];
  const found = await records.findBy({ id: In(ids) });
  const byTarget = new Map<string, BackupRecord[]>();
  for (const r of found) byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r]);
  const out: BackupRecord[] = [];
  for (const [target, two] of byTarget) {
    two.sort(newestFirst);
    const tied = two.length > 1 && two[0].createdAt.getTime() === two[1].createdAt.getTime();
    const newest = tied ? await records.findOne({ where: goodDataWhere(target), order: NEWEST_FIRST }) : two[0];
    if (newest) out.push(newest);
  }
  return out;
}

/** The statement of `findNewestGoodOfEach` for `targets` (at most 100), and its parameters: the ids of each target's two newest good records. */
export function newestGoodQuery(records: Repository<BackupRecord>, targets: string[]): [string, unknown[]] {
  const connection = records.manager.connection;
  const q = (name: string) => connection.driver.escape(name);
  const c = (col: string) => `x.${q(col)}`;
  const good = GOOD_BACKUP_STATUSES.map((st) => `'${st}'`).join(', ');
  // The filter of `goodDataWhere` (constants, and each target as a parameter).
  const part = (i: number) =>
    `SELECT * FROM (SELECT ${c('id')} AS ${q('id')} FROM ${q(records.metadata.tableName)} x` +
    ` WHERE ${c('deletedAt')} IS NULL AND ${c('target')} = :t${i} AND ${c('status')} IN (${good}) AND ${c('scope')} = 'full'` +
    ` AND ${c('includeSchema')} IS TRUE AND ${c('includeData')} IS TRUE ORDER BY ${c('createdAt')} DESC, ${c('id')} DESC LIMIT 2) ${q(`n${i}`)}`;
  return connection.driver.escapeQueryWithParameters(
    targets.map((_, i) => part(i)).join(' UNION ALL '),
    Object.fromEntries(targets.map((t, i) => [`t${i}`, t])),
  );
}
