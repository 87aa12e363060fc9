import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository, SelectQueryBuilder } from 'typeorm';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { invalid } from '../common/errors.js';
import type { BackupStats, BackupStatsQuery, BackupSummary, RestoreRunCounts } from './dto/backup-stats.dto.js';
import { BackupRecord, BackupStatus, GOOD_BACKUP_STATUSES } from './entities/backup-record.entity.js';
import { BackupTotal } from './entities/backup-total.entity.js';

/** Live records of one type and status (of a target, or of all), with the sums behind the averages; aggregates come back raw. */
type StatsGroup = Record<'type' | 'status' | 'n' | 'size' | 'ratioSum' | 'ratioN' | 'durationSum' | 'durationN' | 'verifiedN', unknown> & { lastVerifiedAt?: unknown };

/** Backup statistics computed from the catalog (not from process-local counters). */
@Injectable()
export class BackupStatsService {
  constructor(
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    @InjectRepository(BackupTotal, CATALOG_CONNECTION) private readonly totals: Repository<BackupTotal>,
    @InjectDataSource(CATALOG_CONNECTION) private readonly dataSource: DataSource,
  ) {}

  /** @throws VALIDATION_FAILED when `from` is after `to` (an empty range is a mistake, not zero backups). */
  async stats(q: BackupStatsQuery): Promise<BackupStats> {
    if (q.from && q.to && q.from.getTime() > q.to.getTime()) {
      throw invalid(`from (${q.from.toISOString()}) is after to (${q.to.toISOString()}); swap them or drop one`);
    }
    const from = q.from && this.dateParam(q.from);
    const to = q.to && this.dateParam(q.to);
    const scoped = (alias = 'b') => {
      const qb = this.records.createQueryBuilder(alias);
      if (q.target) qb.andWhere(`${alias}.target = :target`, { target: q.target });
      if (from) qb.andWhere(`${alias}.createdAt >= :from`, { from });
      if (to) qb.andWhere(`${alias}.createdAt <= :to`, { to });
      return qb;
    };
    // Per target, type and status: from the trigger-kept totals when no date range applies,
    // else summed over the range in the records' summary index.
    const ranged = !!(from || to);
    // Oldest and newest good backup and the newest of any status: one seek each in the list
    // indexes (per good status, so that each is an index range, not a scan of IN's union).
    const edge = (dir: 'ASC' | 'DESC', status?: BackupStatus) => {
      const qb = scoped();
      if (status) qb.andWhere('b.status = :edgeStatus', { edgeStatus: status });
      return qb.orderBy('b.createdAt', dir).addOrderBy('b.id', dir).limit(1).getMany().then((r) => r[0] ?? null);
    };
    const [groups, newestVerification, oldestEach, newestEach, latest, restores] = await Promise.all([
      ranged ? this.rangeGroups(scoped()) : this.totalGroups(q.target),
      ranged ? undefined : this.newestVerification(scoped()),
      Promise.all(GOOD_BACKUP_STATUSES.map((st) => edge('ASC', st))),
      Promise.all(GOOD_BACKUP_STATUSES.map((st) => edge('DESC', st))),
      edge('DESC'),
      this.restores(q),
    ]);
    const good = new Set<string>(GOOD_BACKUP_STATUSES);
    const byStatus: Record<string, number> = {};
    const byType: Record<string, number> = {};
    let total = 0;
    let size = 0;
    let ratioSum = 0;
    let ratioN = 0;
    let durationSum = 0;
    let durationN = 0;
    const verif = { total: 0, verified: 0, corrupted: 0 };
    let lastVerifiedAt: Date | null = newestVerification ?? null;
    for (const g of groups) {
      const n = Number(g.n);
      if (!n) continue;
      const status = String(g.status);
      const type = String(g.type);
      total += n;
      byStatus[status] = (byStatus[status] ?? 0) + n;
      byType[type] = (byType[type] ?? 0) + n;
      if (good.has(status)) {
        size += num(g.size) ?? 0;
        ratioSum += num(g.ratioSum) ?? 0;
        ratioN += num(g.ratioN) ?? 0;
        durationSum += num(g.durationSum) ?? 0;
        durationN += num(g.durationN) ?? 0;
      }
      const verified = num(g.verifiedN) ?? 0;
      verif.total += verified;
      if (status === BackupStatus.Verified) verif.verified += verified;
      if (status === BackupStatus.Corrupted) verif.corrupted += verified;
      const at = this.dateValue(g.lastVerifiedAt);
      if (at && (!lastVerifiedAt || at > lastVerifiedAt)) lastVerifiedAt = at;
    }
    const successful = GOOD_BACKUP_STATUSES.reduce((s, st) => s + (byStatus[st] ?? 0), 0);
    const failed = byStatus[BackupStatus.Failed] ?? 0;
    const corrupted = byStatus[BackupStatus.Corrupted] ?? 0;
    const finished = successful + failed + corrupted;

    const oldest = firstOf(oldestEach, (a, b) => -listOrder(a, b));
    const newest = firstOf(newestEach, listOrder);

    return {
      filter: { target: q.target ?? null, from: q.from ?? null, to: q.to ?? null },
      total,
      successful,
      failed,
      successRate: finished ? round(successful / finished, 4) : null,
      totalSizeBytes: size,
      averageCompressionRatio: ratioN ? round(ratioSum / ratioN, 3) : null,
      averageDurationMs: durationN ? round(durationSum / durationN, 0) : null,
      oldest: summary(oldest),
      newest: summary(newest),
      latest: summary(latest),
      byType,
      byStatus,
      verifications: { ...verif, lastVerifiedAt },
      restores,
    };
  }

  /** The live records' totals per type and status (of one target, or of all): a few hundred rows kept by the catalog's triggers. */
  private async totalGroups(target: string | undefined): Promise<StatsGroup[]> {
    const qb = this.totals
      .createQueryBuilder('s')
      .select('s.type', 'type')
      .addSelect('s.status', 'status')
      .addSelect('SUM(s.n)', 'n')
      .addSelect('SUM(s.sizeBytes)', 'size')
      .addSelect('SUM(s.ratioSum)', 'ratioSum')
      .addSelect('SUM(s.ratioN)', 'ratioN')
      .addSelect('SUM(s.durationSum)', 'durationSum')
      .addSelect('SUM(s.durationN)', 'durationN')
      .addSelect('SUM(s.verifiedN)', 'verifiedN')
      .where('s.n > 0');
    if (target) qb.andWhere('s.target = :target', { target });
    return qb.groupBy('s.type').addGroupBy('s.status').getRawMany<StatsGroup>();
  }

  /**
   * The same per type and status over the records `scoped` selects (a date range): one pass
   * over the records' summary index, `idx_backup_records_live_summary`, which holds every column
   * read here, grouped in its order (target, type, status) so the aggregate streams with no sort.
   */
  private rangeGroups(scoped: SelectQueryBuilder<BackupRecord>): Promise<StatsGroup[]> {
    return scoped
      .select('b.target', 'target')
      .addSelect('b.type', 'type')
      .addSelect('b.status', 'status')
      .addSelect('COUNT(*)', 'n')
      .addSelect('SUM(b.sizeBytes)', 'size')
      .addSelect('SUM(b.compressionRatio)', 'ratioSum')
      .addSelect('COUNT(b.compressionRatio)', 'ratioN')
      .addSelect('SUM(b.durationMs)', 'durationSum')
      .addSelect('COUNT(b.durationMs)', 'durationN')
      .addSelect('COUNT(b.verifiedAt)', 'verifiedN')
      .addSelect('MAX(b.verifiedAt)', 'lastVerifiedAt')
      .groupBy('b.target')
      .addGroupBy('b.type')
      .addGroupBy('b.status')
      .getRawMany<StatsGroup>();
  }

  /** The newest `verifiedAt` of the records `scoped` selects: a seek in the `verifiedAt` index, or a target's records in its list index. */
  private async newestVerification(scoped: SelectQueryBuilder<BackupRecord>): Promise<Date | null> {
    const row = await scoped.select('b.verifiedAt', 'at').andWhere('b.verifiedAt IS NOT NULL').orderBy('b.verifiedAt', 'DESC').limit(1).getRawOne<{ at: unknown }>();
    return this.dateValue(row?.at);
  }

  /** A date as the driver stores it (SQLite keeps UTC text, so a raw Date would compare as ISO text). */
  private dateParam(d: Date): unknown {
    const col = this.records.metadata.findColumnWithPropertyName('createdAt')!;
    return this.dataSource.driver.preparePersistentValue(d, col);
  }

  /** A timestamp the catalog returned raw (an aggregate's result): a Date, or SQLite's text. */
  private dateValue(v: unknown): Date | null {
    if (v === null || v === undefined || v === '') return null;
    if (v instanceof Date) return v;
    const col = this.records.metadata.findColumnWithPropertyName('verifiedAt')!;
    const d = this.dataSource.driver.prepareHydratedValue(v, col) as unknown;
    return d instanceof Date && !Number.isNaN(d.getTime()) ? d : null;
  }

  /**
   * Restore runs by status, read through the catalog's metadata so this module does not import
   * the restore module's entity. Null when no `RestoreRun` entity is registered.
   */
  private async restores(q: BackupStatsQuery): Promise<RestoreRunCounts | null> {
    const meta = this.dataSource.entityMetadatas.find((m) => m.name === 'RestoreRun');
    if (!meta) return null;
    const has = (prop: string) => meta.columns.some((c) => c.propertyName === prop);
    if (!has('status')) return null;
    const qb: SelectQueryBuilder<object> = this.dataSource.createQueryBuilder(meta.target, 'r');
    const dateCol = has('createdAt') ? 'createdAt' : has('requestedAt') ? 'requestedAt' : undefined;
    if (q.target && has('target')) qb.andWhere('r.target = :target', { target: q.target });
    if (q.from && dateCol) qb.andWhere(`r.${dateCol} >= :from`, { from: this.dateParam(q.from) });
    if (q.to && dateCol) qb.andWhere(`r.${dateCol} <= :to`, { to: this.dateParam(q.to) });
    const rows = await qb.select('r.status', 'status').addSelect('COUNT(*)', 'n').groupBy('r.status').getRawMany<{ status: string; n: unknown }>();
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    return { total: Object.values(byStatus).reduce((s, n) => s + n, 0), byStatus };
  }
}

/** Newest first by (`createdAt`, `id`), the catalog's list order. */
function listOrder(a: BackupRecord, b: BackupRecord): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** The first of the non-null `rs` in `order`. */
function firstOf(rs: Array<BackupRecord | null>, order: (a: BackupRecord, b: BackupRecord) => number): BackupRecord | null {
  return rs.filter((r): r is BackupRecord => !!r).sort(order)[0] ?? null;
}

function summary(r: BackupRecord | null): BackupSummary | null {
  if (!r) return null;
  return { id: r.id, target: r.target, status: r.status, type: r.type, createdAt: r.createdAt, completedAt: r.completedAt, sizeBytes: r.sizeBytes };
}

function num(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

