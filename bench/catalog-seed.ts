/**
 * Fills a catalog with many backup records: copies of one real completed record, spread over
 * targets and years, with a mix of statuses, types and kinds of copy. Used by the catalog bench
 * (`npm run bench -- --catalog 100000`) and by the tests that need a large catalog. Deterministic:
 * the same options give the same records (ids included).
 */
import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { BackupRecord, BackupStatus, BackupType } from '../src/backup/entities/backup-record.entity.js';

export interface SeedOptions {
  /** How many records. */
  count: number;
  /** Target names; records go round-robin over them. */
  targets: string[];
  /** How far back the history reaches, in days (records are spread evenly, newest a few minutes old). */
  days: number;
  /** The newest instant of the history (default: now). */
  now?: Date;
  /** Varies the ids and the mix (default 1). */
  seed?: number;
}

const DAY = 86_400_000;

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A UUID-shaped id derived from the seed and the index (v4 layout, so `isUuid` accepts it). */
function seededId(seed: number, i: number): string {
  const h = createHash('sha1').update(`${seed}:${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function pick<T>(r: number, table: Array<[number, T]>): T {
  let acc = 0;
  for (const [w, v] of table) {
    acc += w;
    if (r < acc) return v;
  }
  return table[table.length - 1][1];
}

const STATUSES: Array<[number, BackupStatus]> = [
  [0.72, BackupStatus.Verified],
  [0.12, BackupStatus.Completed],
  [0.1, BackupStatus.Failed],
  [0.01, BackupStatus.Corrupted],
  [0.05, BackupStatus.Cancelled],
];
const TYPES: Array<[number, BackupType]> = [
  [0.75, BackupType.Daily],
  [0.11, BackupType.Weekly],
  [0.03, BackupType.Monthly],
  [0.11, BackupType.Manual],
];

/** The records `seedCatalog` inserts, without inserting them (tests compare against these). */
export function* seededRecords(template: BackupRecord, o: SeedOptions): Generator<Partial<BackupRecord>> {
  const seed = o.seed ?? 1;
  const rnd = prng(seed);
  const now = (o.now ?? new Date()).getTime();
  const perTarget = Math.ceil(o.count / o.targets.length);
  const span = o.days * DAY;
  for (let i = 0; i < o.count; i++) {
    const target = o.targets[i % o.targets.length];
    const j = Math.floor(i / o.targets.length);
    // Newest first per target, evenly over the span, a few minutes of jitter; whole milliseconds.
    const createdAt = new Date(now - 5 * 60_000 - Math.floor((span * j) / perTarget) - Math.floor(rnd() * 600_000));
    const status = pick(rnd(), STATUSES);
    const type = pick(rnd(), TYPES);
    const kind = rnd();
    const schemaOnly = kind < 0.04;
    const selective = !schemaOnly && kind < 0.06;
    const good = status === BackupStatus.Completed || status === BackupStatus.Verified || status === BackupStatus.Corrupted;
    const durationMs = 800 + Math.floor(rnd() * 4000);
    const startedAt = status === BackupStatus.Cancelled && rnd() < 0.5 ? null : new Date(createdAt.getTime() + 1000);
    const completedAt = new Date(createdAt.getTime() + 1000 + durationMs);
    const deleted = rnd() < 0.03;
    const size = good ? Math.round((template.sizeBytes ?? 1000) * (0.8 + rnd() * 0.4)) : null;
    yield {
      ...template,
      id: seededId(seed, i),
      target,
      type,
      status,
      scope: selective ? 'selective' : 'full',
      tables: selective ? ['public.t'] : null,
      includeSchema: true,
      includeData: !schemaOnly,
      fileKey: good ? `${target}/${type}/seed-${i}.sql.zst` : null,
      sizeBytes: size,
      rawBytes: good ? template.rawBytes : null,
      checksum: good ? template.checksum : null,
      compressionRatio: good ? Math.round((1.5 + rnd() * 3) * 1000) / 1000 : null,
      durationMs: status === BackupStatus.Cancelled ? null : durationMs,
      startedAt,
      completedAt: status === BackupStatus.Cancelled && !startedAt ? createdAt : completedAt,
      verifiedAt: status === BackupStatus.Verified || status === BackupStatus.Corrupted ? new Date(completedAt.getTime() + 5000) : null,
      errorMessage: status === BackupStatus.Failed ? 'pg_dump exited with code 1: connection refused (seeded)' : status === BackupStatus.Cancelled ? 'Cancelled before it ran' : null,
      pinned: rnd() < 0.001,
      retentionDays: null,
      expiresAt: null,
      attempts: 1,
      triggeredBy: type === BackupType.Manual ? 'user:seed' : `schedule:${target}-${type}`,
      description: null,
      // An old COMPLETED record is one whose verifications the reconciler already gave up on (its
      // most it requeues); without this it would queue verifications of the seeded artifacts.
      metadata: status === BackupStatus.Completed ? { ...(template.metadata ?? {}), verifyRequeues: 3 } : template.metadata,
      createdAt,
      updatedAt: completedAt,
      deletedAt: deleted ? new Date(completedAt.getTime() + DAY) : null,
    };
  }
}

/**
 * Inserts `o.count` copies of `template` (a real completed record) into the catalog `ds`, in
 * batches, one transaction per batch. @returns how many were inserted.
 */
export async function seedCatalog(ds: DataSource, template: BackupRecord, o: SeedOptions, onProgress?: (done: number) => void): Promise<number> {
  const batch: Array<Partial<BackupRecord>> = [];
  let done = 0;
  const flush = async () => {
    if (!batch.length) return;
    await ds.transaction(async (m) => {
      await m.getRepository(BackupRecord).createQueryBuilder().insert().values(batch).updateEntity(false).execute();
    });
    done += batch.length;
    batch.length = 0;
    onProgress?.(done);
  };
  for (const r of seededRecords(template, o)) {
    batch.push(r);
    if (batch.length >= 400) await flush();
  }
  await flush();
  return done;
}
