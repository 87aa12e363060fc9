import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository, SelectQueryBuilder } from 'typeorm';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { invalid } from '../common/errors.js';
import type { BackupStats, BackupStatsQuery, BackupSummary, RestoreRunCounts } from './dto/backup-stats.dto.js';
import { BackupRecord, BackupStatus, GOOD_BACKUP_STATUSES } from './entities/backup-record.entity.js';

/** Backup statistics computed from the catalog (not from process-local counters). */
@Injectable()
export class BackupStatsService {
  constructor(
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
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
    const good = () => scoped().andWhere('b.status IN (:...good)', { good: GOOD_BACKUP_STATUSES });

    const groups = await scoped()
      .select('b.status', 'status')
      .addSelect('b.type', 'type')
      .addSelect('COUNT(*)', 'n')
      .groupBy('b.status')
      .addGroupBy('b.type')
      .getRawMany<{ status: string; type: string; n: string | number }>();
    const byStatus: Record<string, number> = {};
    const byType: Record<string, number> = {};
    let total = 0;
    for (const g of groups) {
      const n = Number(g.n);
      total += n;
      byStatus[g.status] = (byStatus[g.status] ?? 0) + n;
      byType[g.type] = (byType[g.type] ?? 0) + n;
    }
    const successful = GOOD_BACKUP_STATUSES.reduce((s, st) => s + (byStatus[st] ?? 0), 0);
    const failed = byStatus[BackupStatus.Failed] ?? 0;
    const corrupted = byStatus[BackupStatus.Corrupted] ?? 0;
    const finished = successful + failed + corrupted;

    const agg = await good()
      .select('SUM(b.sizeBytes)', 'size')
      .addSelect('AVG(b.compressionRatio)', 'ratio')
      .addSelect('AVG(b.durationMs)', 'duration')
      .getRawOne<{ size: unknown; ratio: unknown; duration: unknown }>();

    const verif = await scoped()
      .select('COUNT(*)', 'n')
      .addSelect(`SUM(CASE WHEN b.status = :verified THEN 1 ELSE 0 END)`, 'ok')
      .addSelect(`SUM(CASE WHEN b.status = :corrupted THEN 1 ELSE 0 END)`, 'bad')
      .andWhere('b.verifiedAt IS NOT NULL')
      .setParameters({ verified: BackupStatus.Verified, corrupted: BackupStatus.Corrupted })
      .getRawOne<{ n: unknown; ok: unknown; bad: unknown }>();
    const lastVerified = await scoped().andWhere('b.verifiedAt IS NOT NULL').orderBy('b.verifiedAt', 'DESC').getOne();

    const [oldest, newest, latest] = await Promise.all([
      good().orderBy('b.createdAt', 'ASC').addOrderBy('b.id', 'ASC').getOne(),
      good().orderBy('b.createdAt', 'DESC').addOrderBy('b.id', 'DESC').getOne(),
      scoped().orderBy('b.createdAt', 'DESC').addOrderBy('b.id', 'DESC').getOne(),
    ]);

    return {
      filter: { target: q.target ?? null, from: q.from ?? null, to: q.to ?? null },
      total,
      successful,
      failed,
      successRate: finished ? round(successful / finished, 4) : null,
      totalSizeBytes: num(agg?.size) ?? 0,
      averageCompressionRatio: roundOrNull(num(agg?.ratio), 3),
      averageDurationMs: roundOrNull(num(agg?.duration), 0),
      oldest: summary(oldest),
      newest: summary(newest),
      latest: summary(latest),
      byType,
      byStatus,
      verifications: {
        total: num(verif?.n) ?? 0,
        verified: num(verif?.ok) ?? 0,
        corrupted: num(verif?.bad) ?? 0,
        lastVerifiedAt: lastVerified?.verifiedAt ?? null,
      },
      restores: await this.restores(q),
    };
  }

  /** A date as the driver stores it (SQLite keeps UTC text, so a raw Date would compare as ISO text). */
  private dateParam(d: Date): unknown {
    const col = this.records.metadata.findColumnWithPropertyName('createdAt')!;
    return this.dataSource.driver.preparePersistentValue(d, col);
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

function roundOrNull(n: number | null, digits: number): number | null {
  return n === null ? null : round(n, digits);
}
