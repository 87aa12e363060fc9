import { BackupStatus, type BackupRecord } from '../../src/backup/entities/backup-record.entity.js';

/** The columns of a record that `/backups/stats` reads. */
export type StatsRow = Pick<Partial<BackupRecord>, 'id' | 'target' | 'type' | 'status' | 'sizeBytes' | 'compressionRatio' | 'durationMs' | 'verifiedAt' | 'createdAt'>;

const GOOD = new Set<string>([BackupStatus.Completed, BackupStatus.Verified]);

export const createdAt = (r: StatsRow) => r.createdAt!.getTime();
/** Newest first by (`createdAt`, `id`), the list order. */
const order = (a: StatsRow, b: StatsRow) => createdAt(b) - createdAt(a) || (a.id! < b.id! ? 1 : -1);

/**
 * What `/backups/stats` must say about the live records `rs`, counted here one by one: every
 * number it returns, and the ids of the oldest, newest and latest.
 */
export function expectedStats(rs: StatsRow[]) {
  const good = rs.filter((r) => GOOD.has(r.status!));
  const count = (f: (r: StatsRow) => string) => rs.reduce<Record<string, number>>((m, r) => ((m[f(r)] = (m[f(r)] ?? 0) + 1), m), {});
  const failed = rs.filter((r) => r.status === BackupStatus.Failed).length;
  const corrupted = rs.filter((r) => r.status === BackupStatus.Corrupted).length;
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const ratio = mean(good.filter((r) => r.compressionRatio != null).map((r) => r.compressionRatio!));
  const duration = mean(good.filter((r) => r.durationMs != null).map((r) => r.durationMs!));
  const verified = rs.filter((r) => r.verifiedAt);
  const sorted = [...good].sort(order);
  return {
    total: rs.length,
    successful: good.length,
    failed,
    successRate: good.length + failed + corrupted ? Math.round((good.length / (good.length + failed + corrupted)) * 10000) / 10000 : null,
    totalSizeBytes: good.reduce((s, r) => s + (r.sizeBytes ?? 0), 0),
    averageCompressionRatio: ratio === null ? null : Math.round(ratio * 1000) / 1000,
    averageDurationMs: duration === null ? null : Math.round(duration),
    byStatus: count((r) => r.status!),
    byType: count((r) => r.type!),
    verifications: {
      total: verified.length,
      verified: verified.filter((r) => r.status === BackupStatus.Verified).length,
      corrupted: verified.filter((r) => r.status === BackupStatus.Corrupted).length,
      lastVerifiedAt: verified.length ? new Date(Math.max(...verified.map((r) => r.verifiedAt!.getTime()))).toISOString() : null,
    },
    newest: sorted[0]?.id ?? null,
    oldest: sorted[sorted.length - 1]?.id ?? null,
    latest: [...rs].sort(order)[0]?.id ?? null,
  };
}

