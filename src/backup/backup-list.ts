import type { Repository } from 'typeorm';
import type { ListBackupsQuery } from './dto/list-backups.dto.js';
import type { BackupRecord } from './entities/backup-record.entity.js';
import type { BackupTotal } from './entities/backup-total.entity.js';
import { decodeCursor, encodeCursor, type ListPosition } from './list-cursor.js';

/** One page of `listBackups`: the records, how many match, and the cursor of the next page (null on the last). */
export interface BackupList {
  items: BackupRecord[];
  total: number;
  /** The page number asked for; null for a page asked for by cursor. */
  page: number | null;
  pages: number;
  cursor: string | null;
}

/**
 * One page of backups, newest first (`createdAt`, then `id`), by `cursor` (the position after a
 * previous page's last record) or by `page` number. One statement reads the page: its positions
 * are an index seek on every catalog engine (the `idx_backup_records_live_*` indexes), a cursor
 * straight to its place, a page number counting its way there in the index alone, and only the
 * page's rows are then read from the table. The total of the live records comes from the
 * trigger-kept `backup_totals` (whose key holds every list filter); only `includeDeleted`
 * counts records. Records created while a client walks by cursor never make it see a record
 * twice or miss one.
 * @throws VALIDATION_FAILED for a cursor this API did not hand out.
 */
export async function listBackups(deps: { records: Repository<BackupRecord>; totals: Repository<BackupTotal> }, q: ListBackupsQuery): Promise<BackupList> {
  const after = q.cursor ? decodeCursor(q.cursor) : undefined;
  const positions = deps.records.createQueryBuilder('b').select('b.id', 'id');
  if (q.includeDeleted) positions.withDeleted();
  if (q.status) positions.andWhere('b.status = :status', { status: q.status });
  if (q.type) positions.andWhere('b.type = :type', { type: q.type });
  if (q.target) positions.andWhere('b.target = :target', { target: q.target });
  const count = q.includeDeleted ? positions.clone().select('COUNT(*)', 'n') : liveCount(deps.totals, q);
  positions.orderBy('b.createdAt', 'DESC').addOrderBy('b.id', 'DESC').limit(q.limit + 1);
  if (after) {
    // A range on the index's leading order column, then the tie on `id`: a seek on every engine.
    positions.andWhere('b.createdAt <= :afterAt AND (b.createdAt < :afterAt OR b.id < :afterId)', { afterAt: after.createdAt, afterId: after.id });
  } else {
    positions.offset((q.page - 1) * q.limit);
  }
  const q_ = (name: string) => deps.records.manager.connection.driver.escape(name);
  const page = deps.records
    .createQueryBuilder('r')
    .withDeleted()
    .innerJoin(`(${positions.getQuery()})`, 'p', `p.${q_('id')} = r.id`)
    .setParameters(positions.getParameters())
    .orderBy('r.createdAt', 'DESC')
    .addOrderBy('r.id', 'DESC');
  const [{ entities, raw }, n] = await Promise.all([page.getRawAndEntities<{ r_id: string; r_createdAt: ListPosition['createdAt'] }>(), count.getRawOne<{ n: unknown }>()]);
  const items = entities.slice(0, q.limit);
  const total = Number(n?.n ?? 0);
  // The cursor keeps the creation time as the catalog returned it (see `ListPosition`).
  const last = items.length ? raw.find((r) => r.r_id === items[items.length - 1].id) : undefined;
  return {
    items,
    total,
    page: after ? null : q.page,
    pages: Math.ceil(total / q.limit),
    cursor: entities.length > q.limit && last ? encodeCursor({ id: last.r_id, createdAt: last.r_createdAt }) : null,
  };
}

/** How many live records match the list's filters, summed from `backup_totals` (a few rows, whatever the catalog's size). */
function liveCount(totals: Repository<BackupTotal>, q: ListBackupsQuery) {
  const qb = totals.createQueryBuilder('s').select('COALESCE(SUM(s.n), 0)', 'n');
  if (q.status) qb.andWhere('s.status = :status', { status: q.status });
  if (q.type) qb.andWhere('s.type = :type', { type: q.type });
  if (q.target) qb.andWhere('s.target = :target', { target: q.target });
  return qb;
}
