// @serial seeds large catalogs against time limits
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mysql from 'mysql2/promise';
import { createHash, randomBytes } from 'node:crypto';
import { In, type DataSource } from 'typeorm';
import { seedCatalog, seededRecords, type SeedOptions } from '../bench/catalog-seed.js';
import { BackupRecord, BackupStatus, BackupType } from '../src/backup/entities/backup-record.entity.js';
import { goodDataWhere, isGoodDataBackup, NEWEST_FIRST, newestFirst, newestGoodQuery } from '../src/backup/good-backup.js';
import { openCatalog } from '../src/catalog/catalog.js';
import { RetentionService } from '../src/scheduler/retention.service.js';
import { api } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { createdAt as at, expectedStats } from './support/expected-stats.js';
import { cases, HISTORY, NOW } from './support/retention-history.js';

/**
 * A catalog of many records on each engine: cursor pagination while backups keep arriving,
 * statistics against a count done here, and a cleanup over a large catalog against the retention
 * table test's expectations.
 */

const MYSQL = 'mysql://root@127.0.0.1:3306';

/** A completed record to copy (what the bench takes from a real backup). */
function template(): BackupRecord {
  return Object.assign(new BackupRecord(), {
    id: '00000000-0000-4000-8000-000000000000',
    type: 'daily',
    status: BackupStatus.Verified,
    target: 't0',
    engine: 'postgres',
    scope: 'full',
    tables: null,
    includeSchema: true,
    includeData: true,
    format: 'custom',
    compression: 'zstd',
    fileKey: null,
    sizeBytes: 40_000,
    rawBytes: 160_000,
    checksum: 'a'.repeat(64),
    databaseSizeBytes: 9_000_000,
    tableCount: 3,
    rowEstimate: 20_000,
    compressionRatio: 4,
    triggeredBy: 'schedule:t0-daily',
    description: null,
    errorMessage: null,
    retentionDays: null,
    expiresAt: null,
    pinned: false,
    attempts: 1,
    metadata: { clientVersion: 'pg_dump (PostgreSQL) 17', tableRows: { 'public.a': 1, 'public.b': 2 } },
  });
}

interface Engine {
  name: string;
  /** Env of a fresh catalog on this engine, and how to drop it. */
  make(): Promise<{ env: Record<string, string>; drop(): Promise<void> }>;
}

const engines: Engine[] = [
  { name: 'SQLite', make: async () => ({ env: {}, drop: async () => undefined }) },
  {
    name: 'PostgreSQL',
    make: async () => {
      const db = await createPgDatabase('catalog_scale');
      return { env: { CATALOG_URL: `postgres://postgres@127.0.0.1:5432/${db}` }, drop: () => dropPgDatabase(db) };
    },
  },
  {
    name: 'MariaDB',
    make: async () => {
      const db = `bmt_catalog_scale_${randomBytes(4).toString('hex')}`;
      const c = await mysql.createConnection(MYSQL);
      await c.query(`CREATE DATABASE \`${db}\``);
      await c.end();
      return {
        env: { CATALOG_URL: `${MYSQL}/${db}` },
        drop: async () => {
          const d = await mysql.createConnection(MYSQL);
          await d.query(`DROP DATABASE IF EXISTS \`${db}\``);
          await d.end();
        },
      };
    },
  },
];

/** The catalog the app under test uses, opened by the test itself. */
function catalogOf(t: TestApp): Promise<DataSource> {
  const o = t.config.options.catalog;
  return openCatalog({ ...o, migrationsRun: false });
}

describe.each(engines)('a large catalog on $name', (engine) => {
  let t: TestApp;
  let ds: DataSource;
  let drop: () => Promise<void>;
  const seed: SeedOptions = { count: 3000, targets: Array.from({ length: 10 }, (_, i) => `t${i}`), days: 400, now: new Date(Date.now() - 3600_000), seed: 7 };
  const seeded = [...seededRecords(template(), seed)];
  const live = seeded.filter((r) => !r.deletedAt);

  beforeAll(async () => {
    const cat = await engine.make();
    drop = cat.drop;
    t = await startTestApp(cat.env);
    ds = await catalogOf(t);
    await seedCatalog(ds, template(), seed);
  });

  afterAll(async () => {
    await ds?.destroy();
    await t?.close();
    await drop?.();
  });

  /** `/backups/stats` + `query` says exactly what `expectedStats(rs)` counts: every number, and the oldest, newest and latest. */
  async function expectStats(query: string, rs: Array<Partial<BackupRecord>>): Promise<void> {
    const res = await api(t, 'GET', `/api/v1/backups/stats${query}`, { token: t.token('viewer') });
    expect(res.status).toBe(200);
    const { newest, oldest, latest, ...counts } = expectedStats(rs);
    const { filter: _filter, restores, newest: n, oldest: o, latest: l, ...got } = res.body;
    expect({ query, ...got }).toEqual({ query, ...counts });
    expect([n?.id, o?.id, l?.id]).toEqual([newest, oldest, latest]);
    expect(restores).toEqual({ total: 0, byStatus: {} });
  }

  it('stats over the seeded catalog equal a count done here, whole, per target and per date range', async () => {
    const from = new Date(Date.now() - 200 * 86_400_000);
    const to = new Date(Date.now() - 50 * 86_400_000);
    const views: Array<[string, Array<Partial<BackupRecord>>]> = [
      ['', live],
      ['?target=t3', live.filter((r) => r.target === 't3')],
      [`?from=${from.toISOString()}&to=${to.toISOString()}`, live.filter((r) => at(r) >= from.getTime() && at(r) <= to.getTime())],
      [`?target=t5&from=${from.toISOString()}`, live.filter((r) => r.target === 't5' && at(r) >= from.getTime())],
    ];
    for (const [query, rs] of views) await expectStats(query, rs);
  });

  // Each target's newest good backups must be a walk of its list index that stops early, never a
  // sort of its records: SQLite (no statistics) once picked an index that merely starts with
  // `target`, and MariaDB sorted every record of each target for an ORDER BY with `startedAt`.
  it("the newest good backup of each target is read by walking its list index, not by sorting its records", async () => {
    const records = ds.getRepository(BackupRecord);
    const [sql, params] = newestGoodQuery(records, ['t3', 't7']);
    if (engine.name === 'SQLite') {
      const plan = (await ds.query(`EXPLAIN QUERY PLAN ${sql}`, params)).map((r: { detail: string }) => r.detail).join(' | ');
      expect(plan).toMatch(/USING INDEX \S+_live_target \(target=\?\)/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    } else if (engine.name === 'PostgreSQL') {
      const plan = (await ds.query(`EXPLAIN ${sql}`, params)).map((r: Record<string, string>) => r['QUERY PLAN']).join(' | ');
      expect(plan).toMatch(/Index Scan( Backward)? using \S+_live_target/);
      expect(plan).not.toMatch(/Sort/);
    } else {
      const plan = (await ds.query(`EXPLAIN ${sql}`, params)) as Array<{ table: string; key: string | null; Extra: string | null }>;
      const walks = plan.filter((r) => r.table === 'x');
      expect(walks).toHaveLength(2);
      for (const w of walks) {
        expect(w.key).toMatch(/_live_target$/);
        expect(w.Extra ?? '').not.toMatch(/filesort/);
      }
    }
    // The tie-break of `findNewestGood`, asked only for a tie on the creation time, still seeks.
    if (engine.name === 'SQLite') {
      const qb = records.createQueryBuilder('b').setFindOptions({ where: goodDataWhere('t3'), order: NEWEST_FIRST, take: 1 });
      const [tieSql, tieParams] = qb.getQueryAndParameters();
      const plan = (await ds.query(`EXPLAIN QUERY PLAN ${tieSql}`, tieParams)).map((r: { detail: string }) => r.detail).join(' | ');
      expect(plan).toMatch(/USING INDEX \S+_(live_target|target_created) \(target=\?\)/);
    }
  });

  it('a cursor walk returns every record exactly once while new backups are inserted, and pages agree with cursors', async () => {
    const repo = ds.getRepository(BackupRecord);
    let inserted = 0;
    const insertSome = async () => {
      const base = template();
      for (const withTime of [true, false]) {
        // With a time of now, and with the catalog's own default (whole seconds on SQLite).
        const id = createHash('sha1').update(`new:${inserted++}`).digest('hex');
        const uuid = `${id.slice(0, 8)}-${id.slice(8, 12)}-4${id.slice(13, 16)}-8${id.slice(17, 20)}-${id.slice(20, 32)}`;
        const { createdAt: _c, updatedAt: _u, deletedAt: _d, ...rest } = base;
        await repo.insert({ ...rest, id: uuid, target: 't3', status: BackupStatus.Queued, ...(withTime ? { createdAt: new Date() } : {}) });
      }
    };
    const walk = async (filter: string, limit: number) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await api(t, 'GET', `/api/v1/backups?limit=${limit}${filter}${cursor ? `&cursor=${cursor}` : ''}`, { token: t.token('viewer') });
        expect(res.status).toBe(200);
        if (cursor) expect(res.body.page).toBeNull();
        seen.push(...res.body.items.map((r: { id: string }) => r.id));
        cursor = res.body.cursor;
        if (pages++ % 3 === 0) await insertSome();
      } while (cursor);
      return seen;
    };
    for (const [filter, want] of [
      ['', live],
      ['&target=t3', live.filter((r) => r.target === 't3')],
      ['&status=FAILED', live.filter((r) => r.status === BackupStatus.Failed)],
      ['&includeDeleted=true', seeded],
    ] as const) {
      const seen = await walk(filter, 97);
      expect(seen.length).toBe(new Set(seen).size);
      const wanted = new Set(want.map((r) => r.id!));
      expect(seen.filter((id) => wanted.has(id)).sort()).toEqual([...wanted].sort());
    }
    expect(inserted).toBeGreaterThan(20);

    // Page n and the cursor that page n - 1 hands out lead to the same records.
    const p4 = await api(t, 'GET', '/api/v1/backups?limit=50&page=4&type=daily');
    const p5 = await api(t, 'GET', '/api/v1/backups?limit=50&page=5&type=daily');
    const next = await api(t, 'GET', `/api/v1/backups?limit=50&type=daily&cursor=${p4.body.cursor}`);
    expect(next.body.items.map((r: { id: string }) => r.id)).toEqual(p5.body.items.map((r: { id: string }) => r.id));
    expect(p5.body).toMatchObject({ page: 5, total: next.body.total, pages: Math.ceil(next.body.total / 50) });

    for (const bad of ['not-a-cursor', Buffer.from('["x","2025-01-01","abc"]').toString('base64url'), 'a%2Fb']) {
      const res = await api(t, 'GET', `/api/v1/backups?cursor=${bad}`);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(String(res.body.message)).toMatch(/cursor/);
    }
  });

  it('/metrics counts and last successes equal a count done here, also after status, target and type changes, soft deletes, undeletes and deletes', async () => {
    const repo = ds.getRepository(BackupRecord);
    const scrape = async () => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      const series = (name: string) =>
        Object.fromEntries([...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))].map((m) => [m[1], Number(m[2])]));
      return { backups: series('backup_manager_backups'), lastSuccess: series('backup_manager_last_success_timestamp_seconds') };
    };
    const bruteForce = async () => {
      const all = await repo.find({ withDeleted: true, select: { id: true, target: true, status: true, deletedAt: true, scope: true, includeSchema: true, includeData: true, createdAt: true, startedAt: true, completedAt: true } });
      const backups: Record<string, number> = {};
      const newest = new Map<string, BackupRecord>();
      for (const r of all.filter((x) => !x.deletedAt).sort(newestFirst)) {
        const key = `target="${r.target}",status="${r.status}"`;
        backups[key] = (backups[key] ?? 0) + 1;
        if (isGoodDataBackup(r) && !newest.has(r.target)) newest.set(r.target, r);
      }
      const lastSuccess = Object.fromEntries([...newest].map(([target, r]) => [`target="${target}"`, (r.completedAt ?? r.createdAt).getTime() / 1000]));
      return { backups, lastSuccess };
    };
    // The cursor walk's QUEUED records have no job: settle them first, so that the reconciler
    // does not fail them between a count and a scrape.
    await repo.update({ status: In([BackupStatus.Queued, BackupStatus.Running]) }, { status: BackupStatus.Cancelled });
    expect(await scrape()).toEqual(await bruteForce());

    // Changes through the catalog, as the service and its tools make them.
    const ids = live.filter((r) => r.target === 't4').map((r) => r.id!);
    const deleted = seeded.filter((r) => r.deletedAt).map((r) => r.id!);
    await repo.update({ id: In(ids.slice(0, 40)) }, { status: BackupStatus.Failed });
    await repo.update({ id: In(ids.slice(40, 50)) }, { status: BackupStatus.Verified, target: 't9' });
    await repo.softDelete({ id: In(ids.slice(50, 80)) });
    await repo.restore({ id: In(deleted.slice(0, 20)) });
    await repo.delete({ id: In([...ids.slice(80, 100), ...deleted.slice(20, 30)]) });
    // Changes of type, size and verification move records between the kept totals, not between the counts.
    await repo.update({ id: In(ids.slice(100, 120)) }, { type: BackupType.Monthly, sizeBytes: 1, compressionRatio: null, verifiedAt: null });
    await repo.update({ id: In(ids.slice(120, 130)) }, { type: BackupType.Manual, status: BackupStatus.Corrupted, verifiedAt: new Date() });
    // The newest good backup of t2 goes: the one before it is its last success now.
    const t2 = live.filter((r) => r.target === 't2' && isGoodDataBackup(r as BackupRecord)).sort((a, b) => newestFirst(a as BackupRecord, b as BackupRecord))[0];
    await repo.softDelete({ id: t2.id! });
    const after = await bruteForce();
    expect(after.lastSuccess['target="t2"']).toBeLessThan(t2.completedAt!.getTime() / 1000);
    expect(await scrape()).toEqual(after);

    // Two good backups of t3 created in the same second, the newest of all: the one started later
    // is its last success, though the other one comes first in list order (the higher id).
    const [lo, hi] = live
      .filter((r) => r.target === 't3' && !r.deletedAt && isGoodDataBackup(r as BackupRecord))
      .slice(0, 2)
      .map((r) => r.id!)
      .sort();
    const second = Math.ceil(Date.now() / 1000) * 1000 + 3_600_000;
    await repo.update({ id: lo }, { createdAt: new Date(second), startedAt: new Date(second + 10_000), completedAt: new Date(second + 20_000) });
    await repo.update({ id: hi }, { createdAt: new Date(second), startedAt: new Date(second + 1_000), completedAt: new Date(second + 5_000) });
    const tied = await bruteForce();
    expect(tied.lastSuccess['target="t3"']).toBe((second + 20_000) / 1000);
    expect(await scrape()).toEqual(tied);
  });

  it('stats equal a count done here after status, target, type, size and verification changes, soft deletes, undeletes and deletes', async () => {
    const repo = ds.getRepository(BackupRecord);
    const records = () =>
      repo.find({ withDeleted: true, select: { id: true, target: true, type: true, status: true, sizeBytes: true, compressionRatio: true, durationMs: true, verifiedAt: true, createdAt: true, deletedAt: true } });
    const before = await records();
    const t6 = before.filter((r) => !r.deletedAt && r.target === 't6' && r.status !== BackupStatus.Cancelled).map((r) => r.id);
    const gone = before.filter((r) => r.deletedAt).map((r) => r.id);
    const when = new Date(Date.now() + 60_000);
    // Each through the catalog, as the service and its tools write: the key, the sums, or both.
    await repo.update({ id: In(t6.slice(0, 30)) }, { status: BackupStatus.Failed, sizeBytes: null, compressionRatio: null });
    await repo.update({ id: In(t6.slice(30, 40)) }, { status: BackupStatus.Verified, target: 't1', type: BackupType.Weekly, verifiedAt: when });
    await repo.update({ id: In(t6.slice(40, 60)) }, { sizeBytes: 123_456_789, compressionRatio: 9.5, durationMs: 77 });
    await repo.update({ id: In(t6.slice(60, 70)) }, { verifiedAt: null });
    await repo.update({ id: In(t6.slice(70, 80)) }, { compressionRatio: null, durationMs: null, status: BackupStatus.Corrupted, verifiedAt: new Date(when.getTime() - 1000) });
    await repo.update({ id: In(t6.slice(80, 90)) }, { type: BackupType.Monthly });
    await repo.softDelete({ id: In(t6.slice(90, 120)) });
    await repo.restore({ id: In(gone.slice(0, 25)) });
    // A soft-deleted record's changes count nothing until it is undeleted.
    await repo.update({ id: In(gone.slice(25, 35)) }, { status: BackupStatus.Verified, sizeBytes: 5, verifiedAt: new Date(when.getTime() + 1000) });
    await repo.delete({ id: In([...t6.slice(120, 140), ...gone.slice(35, 45)]) });
    await repo.update({ id: In(t6.slice(140, 150)) }, { deletedAt: new Date(), status: BackupStatus.Failed });

    const live = (await records()).filter((r) => !r.deletedAt);
    const from = new Date(Date.now() - 300 * 86_400_000);
    await expectStats('', live);
    for (const target of ['t6', 't1']) await expectStats(`?target=${target}`, live.filter((r) => r.target === target));
    await expectStats(`?target=t6&from=${from.toISOString()}`, live.filter((r) => r.target === 't6' && at(r) >= from.getTime()));
    expect(expectedStats(live).verifications.lastVerifiedAt).toBe(when.toISOString());

    // The list's totals (read from the same kept totals) too, for each filter and both together.
    const all = await records();
    for (const [query, want] of [
      ['', live],
      ['&target=t6', live.filter((r) => r.target === 't6')],
      ['&status=FAILED', live.filter((r) => r.status === BackupStatus.Failed)],
      ['&type=weekly&target=t1', live.filter((r) => r.type === BackupType.Weekly && r.target === 't1')],
      ['&includeDeleted=true&target=t6', all.filter((r) => r.target === 't6')],
    ] as const) {
      const res = await api(t, 'GET', `/api/v1/backups?limit=7${query}`);
      expect({ query, total: res.body.total, pages: res.body.pages }).toEqual({ query, total: want.length, pages: Math.ceil(want.length / 7) });
    }
  });
});

describe.each(engines.slice(0, 2))('a cleanup over a large catalog on $name', (engine) => {
  const c = cases.find((x) => x.name.startsWith('tiered: everything for 7 days'))!;
  const COPIES = 2;
  let t: TestApp;
  let ds: DataSource;
  let drop: () => Promise<void>;
  /** The history's ids on copy k of the target, as UUIDs. */
  const uuid = (k: number, id: string) => {
    const h = createHash('sha1').update(`${k}:${id}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };

  let source: string;

  beforeAll(async () => {
    const cat = await engine.make();
    drop = cat.drop;
    source = await createPgDatabase('catalog_scale_src');
    await pgQuery(source, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)');
    t = await startTestApp({
      ...cat.env,
      SCHEDULER_TIMEZONE: 'UTC',
      RETENTION_POLICIES: JSON.stringify([c.policy]),
      RETENTION_DEFAULT_POLICY: c.policy.name,
      BACKUP_TARGET_C0_URL: `postgres://postgres@127.0.0.1:5432/${source}`,
    });
    ds = await catalogOf(t);
    // The table test's history on COPIES targets...
    const base = template();
    const rows: Array<Partial<BackupRecord>> = [];
    for (let k = 0; k < COPIES; k++) {
      for (const r of HISTORY) {
        rows.push({ ...base, id: uuid(k, r.id), target: `h${k}`, type: r.type as BackupRecord['type'], status: r.status as BackupStatus, createdAt: r.createdAt, startedAt: r.createdAt, pinned: r.pinned, sizeBytes: r.sizeBytes, scope: r.scope as 'full', includeSchema: r.includeSchema, includeData: r.includeData, fileKey: null });
      }
    }
    for (let i = 0; i < rows.length; i += 400) await ds.getRepository(BackupRecord).insert(rows.slice(i, i + 400));
    // ...among many records of other targets that keep their own retention (and already say so).
    const filler = [...seededRecords(template(), { count: 12_000, targets: ['f0', 'f1', 'f2', 'f3'], days: 300, now: NOW, seed: 11 })].map((r) => ({
      ...r,
      fileKey: null,
      retentionDays: 100_000,
      expiresAt: new Date(r.createdAt!.getTime() + 100_000 * 86_400_000),
    }));
    for (let i = 0; i < filler.length; i += 400) await ds.getRepository(BackupRecord).insert(filler.slice(i, i + 400));
  });

  afterAll(async () => {
    await ds?.destroy();
    await t?.close();
    await drop?.();
    if (source) await dropPgDatabase(source);
  });

  it(`deletes exactly what the retention table test says (${c.name})`, async () => {
    const keep = new Set(c.expected());
    const expectedDeleted: string[] = [];
    for (let k = 0; k < COPIES; k++) for (const r of HISTORY) if (!keep.has(r.id)) expectedDeleted.push(uuid(k, r.id));
    expect(expectedDeleted.length).toBeGreaterThan(COPIES * 500);

    const result = await t.app.get(RetentionService, { strict: false }).cleanup({ trigger: 'test', now: NOW });
    expect(result.skipped).toEqual([]);
    expect(result.deleted.map((d) => d.id).sort()).toEqual(expectedDeleted.sort());
    const fillerLive = [...seededRecords(template(), { count: 12_000, targets: ['f0', 'f1', 'f2', 'f3'], days: 300, now: NOW, seed: 11 })].filter((r) => !r.deletedAt).length;
    expect(result.kept).toBe(COPIES * HISTORY.length - expectedDeleted.length + fillerLive);

    // The catalog says the same: exactly those are soft-deleted.
    const gone = await ds.getRepository(BackupRecord).createQueryBuilder('b').withDeleted().select('b.id', 'id').where('b.deletedAt IS NOT NULL').getRawMany<{ id: string }>();
    const seededDeleted = [...seededRecords(template(), { count: 12_000, targets: ['f0', 'f1', 'f2', 'f3'], days: 300, now: NOW, seed: 11 })].filter((r) => r.deletedAt).map((r) => r.id!);
    expect(gone.map((g) => g.id).sort()).toEqual([...expectedDeleted, ...seededDeleted].sort());
  });

  it('a completed backup plans only the newest records of its target, and writes what a plan over all of them says', async () => {
    // The table test's history on c0, ending an hour ago, with no expiresAt yet.
    const shift = Date.now() - 3600_000 - NOW.getTime();
    const base = template();
    const rows = HISTORY.map((r) => {
      const at = new Date(r.createdAt.getTime() + shift);
      return { ...base, id: uuid(9, r.id), target: 'c0', type: r.type as BackupRecord['type'], status: r.status as BackupStatus, createdAt: at, startedAt: at, pinned: r.pinned, sizeBytes: r.sizeBytes, scope: r.scope as 'full', includeSchema: r.includeSchema, includeData: r.includeData, fileKey: null, expiresAt: null };
    });
    const repo = ds.getRepository(BackupRecord);
    for (let i = 0; i < rows.length; i += 400) await repo.insert(rows.slice(i, i + 400));
    expect(rows.length).toBeGreaterThan(600);

    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'c0' } });
    expect(created.status).toBe(202);
    await waitFor(async () => (await repo.findOneBy({ id: created.body.id }))?.expiresAt, 'the new backup\'s expiresAt', 60_000);

    const full = new Map((await t.app.get(RetentionService, { strict: false }).plan('c0')).plan.keep.map((k) => [k.id, k.expiresAt?.getTime() ?? null]));
    const now = (await repo.find({ where: { target: 'c0' }, select: { id: true, createdAt: true, expiresAt: true }, order: { createdAt: 'DESC', id: 'DESC' } })).map((r) => ({ id: r.id, at: r.createdAt.getTime(), expiresAt: r.expiresAt?.getTime() ?? null }));
    // The 500 newest were read; those newer than the oldest of them got the full plan's dates...
    const boundary = now[499].at;
    const read = now.filter((r) => r.at > boundary);
    expect(read.length).toBeGreaterThan(400);
    expect(read.filter((r) => r.expiresAt !== null).length).toBeGreaterThan(0);
    expect(read.map((r) => [r.id, r.expiresAt])).toEqual(read.map((r) => [r.id, full.get(r.id) ?? null]));
    // ...and the older ones were neither read nor written.
    expect(now.filter((r) => r.at <= boundary && r.expiresAt !== null)).toEqual([]);
  }, 90_000);
});
