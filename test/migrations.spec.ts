import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import 'reflect-metadata';
import { Column, DataSource, Entity, PrimaryGeneratedColumn, type DataSourceOptions } from 'typeorm';
import { CATALOG_MIGRATIONS } from '../migrations/index.js';
import { openCatalog } from '../src/catalog/catalog.js';
import { createPgDatabase, dropPgDatabase } from './support/pg.js';

const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };
const ID = '11111111-1111-4111-8111-111111111111';

/** What TypeORM would change to make the database match the catalog's entities (`migration:generate`'s statements). */
async function schemaDiff(ds: DataSource): Promise<string[]> {
  return (await ds.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query);
}

/** The tables of the catalog's database (PostgreSQL: of `public`). */
async function tablesOf(ds: DataSource): Promise<string[]> {
  const type = ds.options.type;
  const sql =
    type === 'postgres' ? `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`
    : type === 'better-sqlite3' ? `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`
    : `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()`;
  return (await ds.query<Array<{ name: string }>>(sql)).map((r) => r.name).sort();
}

/** The catalog's triggers, and on PostgreSQL the trigger functions they call (as `name()`), sorted. */
async function triggersOf(ds: DataSource): Promise<string[]> {
  const type = ds.options.type;
  const sql =
    type === 'postgres'
      ? `SELECT tgname AS name FROM pg_trigger WHERE NOT tgisinternal
         UNION ALL SELECT proname || '()' FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace WHERE s.nspname = 'public' AND p.prorettype = 'trigger'::regtype`
      : type === 'better-sqlite3' ? `SELECT name FROM sqlite_master WHERE type = 'trigger'`
      : `SELECT trigger_name AS name FROM information_schema.triggers WHERE trigger_schema = DATABASE()`;
  return (await ds.query<Array<{ name: string }>>(sql)).map((r) => r.name).sort();
}

/** The names `triggersOf` lists for the trigger-kept tables `kept` (`counts`, `totals`) of a catalog prefixed `bm_`. */
function keptBy(ds: DataSource, kept: string[]): string[] {
  const names =
    ds.options.type === 'postgres'
      ? kept.flatMap((k) => [`bm_trg_backup_${k}`, `bm_backup_${k}_follow()`])
      : kept.flatMap((k) => ['delete', 'insert', 'update'].map((op) => `bm_trg_backup_${k}_${op}`));
  return names.sort();
}

/** Tables of issue 18 (notifications). */
const NOTIFICATION_TABLES = ['notification_channels', 'notification_deliveries', 'notification_conditions'];
const CATALOG_TABLES = ['backup_records', 'backup_copies', 'backup_totals', 'restore_runs', 'schedules', 'audit_events', 'cache_clear_events', 'users', 'sessions', 'api_tokens', ...NOTIFICATION_TABLES];

/** One empty database per call, on each engine; `url` undefined means an SQLite file. */
type Engine = { name: string; fresh(): Promise<{ url: string | undefined; sqlitePath: string }> };

const dir = mkdtempSync(join(tmpdir(), 'bm-mig-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
  rmSync(dir, { recursive: true, force: true });
});

const engines: Engine[] = [
  { name: 'SQLite', fresh: async () => ({ url: undefined, sqlitePath: join(dir, randomBytes(4).toString('hex'), 'catalog.sqlite') }) },
  {
    name: 'PostgreSQL',
    fresh: async () => {
      const db = await createPgDatabase('catalog');
      cleanups.push(() => dropPgDatabase(db));
      return { url: `postgres://postgres@127.0.0.1:5432/${db}`, sqlitePath: '' };
    },
  },
  {
    name: 'MariaDB',
    fresh: async () => {
      const db = `bmt_catalog_${randomBytes(4).toString('hex')}`;
      const conn = await mysql.createConnection(MYSQL);
      await conn.query(`CREATE DATABASE \`${db}\``);
      cleanups.push(async () => {
        await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
        await conn.end();
      });
      return { url: `mysql://root@127.0.0.1:3306/${db}`, sqlitePath: '' };
    },
  },
];

describe.each(engines)('catalog migrations on $name', (engine) => {
  it('run up and down, leave no schema diff, and keep timestamps to the millisecond', async () => {
    const ds = await openCatalog({ ...(await engine.fresh()), migrationsRun: true });
    try {
      const applied = await ds.query(`SELECT name FROM bm_migrations`);
      expect(applied).toHaveLength(CATALOG_MIGRATIONS.length);
      expect(await tablesOf(ds)).toEqual(['bm_migrations', ...CATALOG_TABLES.map((t) => `bm_${t}`)].sort());
      // The entities describe exactly what the migrations built: nothing for TypeORM to change.
      expect(await schemaDiff(ds)).toEqual([]);
      expect(await triggersOf(ds)).toEqual(keptBy(ds, ['totals']));
      const repo = ds.getRepository('BackupRecord');
      const completedAt = new Date('2026-03-04T05:06:07.089Z');
      await repo.insert({ id: ID, type: 'manual', status: 'QUEUED', target: 't', engine: 'postgres', compression: 'zstd', triggeredBy: 'test', metadata: { a: 1 }, sizeBytes: 2 ** 40, completedAt });
      const row = (await repo.findOneByOrFail({ id: ID })) as Record<string, unknown>;
      expect(row).toMatchObject({ sizeBytes: 2 ** 40, metadata: { a: 1 }, includeSchema: true, completedAt });
      expect(row.createdAt).toBeInstanceOf(Date);
      expect(Math.abs((row.createdAt as Date).getTime() - Date.now())).toBeLessThan(60_000);

      for (let i = 0; i < CATALOG_MIGRATIONS.length; i++) await ds.undoLastMigration({ transaction: 'each' });
      expect(Number((await ds.query(`SELECT count(*) AS n FROM bm_migrations`))[0].n)).toBe(0);
      expect(await tablesOf(ds)).toEqual(['bm_migrations']);
      expect(await triggersOf(ds)).toEqual([]);
      await ds.runMigrations({ transaction: 'each' });
      expect(await schemaDiff(ds)).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });

  it('fill backup_totals from the records already there, and the triggers keep it from then on', async () => {
    const ds = await openCatalog({ ...(await engine.fresh()), migrationsRun: true });
    const repo = ds.getRepository('BackupRecord');
    const totals = async () =>
      (await ds.getRepository('BackupTotal').find({ order: { target: 'ASC', type: 'ASC', status: 'ASC' } })).filter((r) => r.n > 0).map((r) => ({ ...r, ratioSum: Math.round(r.ratioSum * 1000) / 1000 }));
    /** The totals counted here from the live records. */
    const counted = async () => {
      const m = new Map<string, any>();
      for (const r of (await repo.find()) as any[]) {
        const key = `${r.target} ${r.type} ${r.status}`;
        const g = m.get(key) ?? { target: r.target, type: r.type, status: r.status, n: 0, sizeBytes: 0, ratioSum: 0, ratioN: 0, durationSum: 0, durationN: 0, verifiedN: 0 };
        g.n++;
        g.sizeBytes += r.sizeBytes ?? 0;
        g.ratioSum += r.compressionRatio ?? 0;
        g.ratioN += r.compressionRatio === null ? 0 : 1;
        g.durationSum += r.durationMs ?? 0;
        g.durationN += r.durationMs === null ? 0 : 1;
        g.verifiedN += r.verifiedAt ? 1 : 0;
        m.set(key, g);
      }
      return [...m.values()].sort((a, b) => (a.target + a.type + a.status < b.target + b.type + b.status ? -1 : 1)).map((g) => ({ ...g, ratioSum: Math.round(g.ratioSum * 1000) / 1000 }));
    };
    try {
      const record = (i: number) => ({
        id: `${String(i).padStart(8, '0')}-1111-4111-8111-111111111111`,
        type: ['daily', 'weekly', 'manual'][i % 3],
        status: ['VERIFIED', 'COMPLETED', 'FAILED', 'CORRUPTED'][i % 4],
        target: `t${i % 2}`,
        engine: 'postgres',
        compression: 'zstd',
        triggeredBy: 'test',
        sizeBytes: i % 4 === 2 ? null : 1000 * i,
        compressionRatio: i % 5 === 0 ? null : 1 + i / 8,
        durationMs: i % 7 === 0 ? null : 10 * i,
        verifiedAt: i % 4 === 0 || i % 4 === 3 ? new Date(Date.UTC(2026, 0, 1, 0, i)) : null,
        deletedAt: i % 6 === 5 ? new Date() : null,
      });
      // Records from before the totals existed: the migration, run again, sums them.
      const applied = async () => (await ds.query(`SELECT name FROM bm_migrations`)).map((r: { name: string }) => r.name);
      while ((await applied()).includes('BackupTotals1796400000000')) await ds.undoLastMigration({ transaction: 'each' });
      expect(await tablesOf(ds)).not.toContain('bm_backup_totals');
      await repo.insert(Array.from({ length: 40 }, (_, i) => record(i)));
      await ds.runMigrations({ transaction: 'each' });
      expect((await totals()).length).toBeGreaterThan(5);
      expect(await totals()).toEqual(await counted());
      await repo.insert(Array.from({ length: 10 }, (_, i) => record(40 + i)));
      await repo.update({ target: 't1', status: 'FAILED' }, { status: 'VERIFIED', sizeBytes: 7, verifiedAt: new Date() });
      await repo.softDelete({ target: 't0', type: 'weekly' });
      await repo.delete({ target: 't1', type: 'manual' });
      expect(await totals()).toEqual(await counted());
    } finally {
      await ds.destroy();
    }
  });

  it('drop backup_counts and its triggers; undone, bring them back counted from the live records, and kept again', async () => {
    const ds = await openCatalog({ ...(await engine.fresh()), migrationsRun: true });
    const repo = ds.getRepository('BackupRecord');
    const key = (r: { target: string; status: string }) => `${r.target} ${r.status}`;
    /** Live records per target and status, as `bm_backup_counts` holds them (rows at 0 left out). */
    const kept = async () =>
      Object.fromEntries((await ds.query(`SELECT target, status, n FROM bm_backup_counts`)).filter((r: any) => Number(r.n) > 0).map((r: any) => [key(r), Number(r.n)]));
    /** The same, counted here from the live records. */
    const counted = async () => {
      const m: Record<string, number> = {};
      for (const r of (await repo.find()) as any[]) m[key(r)] = (m[key(r)] ?? 0) + 1;
      return m;
    };
    try {
      expect(await tablesOf(ds)).not.toContain('bm_backup_counts');
      expect(await triggersOf(ds)).toEqual(keptBy(ds, ['totals']));
      await repo.insert(
        Array.from({ length: 30 }, (_, i) => ({
          id: `${String(i).padStart(8, '0')}-2222-4222-8222-222222222222`,
          type: ['daily', 'manual'][i % 2],
          status: ['VERIFIED', 'FAILED', 'COMPLETED'][i % 3],
          target: `t${i % 4}`,
          engine: 'postgres',
          compression: 'zstd',
          triggeredBy: 'test',
          deletedAt: i % 5 === 4 ? new Date() : null,
        })),
      );

      const applied = async () => (await ds.query(`SELECT name FROM bm_migrations`)).map((r: { name: string }) => r.name);
      while ((await applied()).includes('DropBackupCounts1796420000000')) await ds.undoLastMigration({ transaction: 'each' });
      expect(await applied()).toContain('BackupTotals1796400000000');
      expect(await tablesOf(ds)).toContain('bm_backup_counts');
      expect(await triggersOf(ds)).toEqual(keptBy(ds, ['counts', 'totals']));
      expect(Object.keys(await kept()).length).toBeGreaterThan(5);
      expect(await kept()).toEqual(await counted());
      // Its triggers follow writes again.
      await repo.update({ target: 't1', status: 'FAILED' }, { status: 'VERIFIED' });
      await repo.softDelete({ target: 't2', status: 'COMPLETED' });
      await repo.restore({ target: 't3' });
      await repo.delete({ target: 't0', type: 'daily' });
      expect(await kept()).toEqual(await counted());

      await ds.runMigrations({ transaction: 'each' });
      expect(await tablesOf(ds)).not.toContain('bm_backup_counts');
      expect(await triggersOf(ds)).toEqual(keptBy(ds, ['totals']));
      expect(await schemaDiff(ds)).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });

  it("migrate beside a host's own tables of the same names, which stay untouched", async () => {
    const where = await engine.fresh();
    // The host's tables: its own `schedules` and its own `migrations` history.
    const host = await openCatalog({ ...where, migrationsRun: false });
    await host.query(`CREATE TABLE schedules (id int PRIMARY KEY, title varchar(50))`);
    await host.query(`CREATE TABLE migrations (id int PRIMARY KEY, name varchar(50))`);
    await host.query(`INSERT INTO schedules (id, title) VALUES (1, 'standup')`);
    await host.destroy();

    const ds = await openCatalog({ ...where, migrationsRun: true });
    try {
      expect(await schemaDiff(ds)).toEqual([]);
      expect(await ds.query(`SELECT id, title FROM schedules`)).toEqual([{ id: 1, title: 'standup' }]);
      expect(await ds.query(`SELECT count(*) AS n FROM migrations`)).toEqual([{ n: expect.anything() }]);
      expect(Number((await ds.query(`SELECT count(*) AS n FROM migrations`))[0].n)).toBe(0);
      await ds.getRepository('Schedule').insert({ id: ID, name: 'nightly', target: 't', preset: 'daily', timezone: 'UTC', type: 'daily' });
      expect(await ds.getRepository('Schedule').countBy({ id: ID })).toBe(1);
    } finally {
      await ds.destroy();
    }
  });

  it('adopts the unprefixed tables of an older install, with their rows', async () => {
    const where = await engine.fresh();
    const old = await openCatalog({ ...where, tablePrefix: '', migrationsRun: true });
    expect(await tablesOf(old)).toEqual(['backup_manager_migrations', ...CATALOG_TABLES].sort());
    // An install from before DropBackupCounts1796420000000: it has `backup_counts` and its triggers.
    await old.undoLastMigration({ transaction: 'each' });
    expect(await tablesOf(old)).toEqual(['backup_manager_migrations', 'backup_counts', ...CATALOG_TABLES].sort());
    const createdAt = new Date('2025-01-02T03:04:05.678Z');
    await old.getRepository('BackupRecord').insert({ id: ID, type: 'daily', status: 'VERIFIED', target: 't', engine: 'postgres', compression: 'zstd', triggeredBy: 'old', createdAt });
    // The shapes the older migrations left, which the entities of that version did not match.
    const type = old.options.type;
    for (const t of ['backup_records', 'restore_runs', 'schedules']) {
      if (type === 'postgres') await old.query(`ALTER TABLE "${t}" ALTER COLUMN "createdAt" SET DEFAULT CURRENT_TIMESTAMP, ALTER COLUMN "updatedAt" SET DEFAULT CURRENT_TIMESTAMP`);
      if (type === 'mariadb') await old.query(`ALTER TABLE \`${t}\` MODIFY \`updatedAt\` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)`);
    }
    if (type !== 'better-sqlite3') expect(await schemaDiff(old)).not.toEqual([]);
    await old.destroy();

    const ds = await openCatalog({ ...where, migrationsRun: true });
    try {
      expect(await tablesOf(ds)).toEqual(['backup_manager_migrations', 'bm_migrations', ...CATALOG_TABLES.map((t) => `bm_${t}`)].sort());
      expect(await triggersOf(ds)).toEqual(keptBy(ds, ['totals']));
      expect(await schemaDiff(ds)).toEqual([]);
      expect(await ds.getRepository('BackupRecord').findOneByOrFail({ id: ID })).toMatchObject({ status: 'VERIFIED', triggeredBy: 'old', createdAt });
      expect(await ds.getRepository('BackupTotal').find()).toEqual([expect.objectContaining({ target: 't', type: 'daily', status: 'VERIFIED', n: 1 })]);
    } finally {
      await ds.destroy();
    }
  });
});

describe("a catalog in a host DataSource's database", () => {
  it("stays out of the host's schema sync and diff, and keeps its rows when the host synchronizes", async () => {
    const db = await createPgDatabase('hostsync');
    cleanups.push(() => dropPgDatabase(db));
    @Entity('widgets')
    class Widget {
      @PrimaryGeneratedColumn()
      id!: number;

      @Column({ type: 'varchar', length: 40 })
      label!: string;
    }
    const hostOptions: DataSourceOptions = { type: 'postgres', url: `postgres://postgres@127.0.0.1:5432/${db}`, entities: [Widget], synchronize: true, logging: false };
    let host = await new DataSource(hostOptions).initialize();
    const catalog = await openCatalog({ dataSource: host, sqlitePath: '', migrationsRun: true });
    const completedAt = new Date('2026-01-02T03:04:05.678Z');
    await catalog.getRepository('BackupRecord').insert({ id: ID, type: 'daily', status: 'VERIFIED', target: 't', engine: 'postgres', compression: 'zstd', triggeredBy: 'host', completedAt });
    expect(await schemaDiff(catalog)).toEqual([]);
    await catalog.destroy();
    // The host's own diff and synchronize never mention the catalog.
    expect(await schemaDiff(host)).toEqual([]);
    await host.destroy();
    host = await new DataSource(hostOptions).initialize();
    expect(await host.query(`SELECT "triggeredBy", "completedAt" FROM bm_backup_records`)).toEqual([{ triggeredBy: 'host', completedAt }]);
    await host.destroy();
  });
});

describe('catalog migrations, concurrency', () => {
  it('two processes migrating at once apply each migration once', async () => {
    const path = join(dir, 'race', 'catalog.sqlite');
    const [a, b] = await Promise.all([openCatalog({ sqlitePath: path, migrationsRun: true }), openCatalog({ sqlitePath: path, migrationsRun: true })]);
    const applied = await a.query(`SELECT name FROM bm_migrations`);
    expect(applied).toHaveLength(CATALOG_MIGRATIONS.length);
    await a.destroy();
    await b.destroy();
  });
});
