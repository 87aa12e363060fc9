import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { CATALOG_MIGRATIONS } from '../migrations/index.js';
import { openCatalog } from '../src/catalog/catalog.js';
import { createPgDatabase, dropPgDatabase } from './support/pg.js';

const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };

async function roundTrip(url: string | undefined, sqlitePath: string) {
  const ds = await openCatalog({ url, sqlitePath, migrationsRun: true });
  try {
    const applied = await ds.query(`SELECT name FROM backup_manager_migrations`);
    expect(applied).toHaveLength(CATALOG_MIGRATIONS.length);
    // The catalog works through the entity after migrating.
    const repo = ds.getRepository('BackupRecord');
    await repo.insert({
      id: '11111111-1111-4111-8111-111111111111', type: 'manual', status: 'QUEUED', target: 't', engine: 'postgres',
      compression: 'zstd', triggeredBy: 'test', metadata: { a: 1 }, sizeBytes: 2 ** 40,
    });
    const row = (await repo.findOneByOrFail({ id: '11111111-1111-4111-8111-111111111111' })) as Record<string, unknown>;
    expect(row.sizeBytes).toBe(2 ** 40);
    expect(row.metadata).toEqual({ a: 1 });
    expect(row.includeSchema).toBe(true);
    expect(row.createdAt).toBeInstanceOf(Date);
    for (let i = 0; i < CATALOG_MIGRATIONS.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    const left = await ds.query(`SELECT count(*) AS n FROM backup_manager_migrations`);
    expect(Number(left[0].n)).toBe(0);
    expect(await ds.createQueryRunner().hasTable('backup_records')).toBe(false);
    // And up again on the emptied database.
    await ds.runMigrations({ transaction: 'each' });
    expect(await ds.createQueryRunner().hasTable('backup_records')).toBe(true);
  } finally {
    await ds.destroy();
  }
}

describe('catalog migrations run up and down', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bm-mig-'));
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  it('on SQLite (the embedded default)', async () => {
    await roundTrip(undefined, join(dir, 'nested', 'catalog.sqlite'));
  });

  it('on PostgreSQL', async () => {
    const db = await createPgDatabase('catalog');
    cleanups.push(() => dropPgDatabase(db));
    await roundTrip(`postgres://postgres@127.0.0.1:5432/${db}`, '');
  });

  it('on MariaDB', async () => {
    const db = `bmt_catalog_${randomBytes(4).toString('hex')}`;
    const conn = await mysql.createConnection(MYSQL);
    await conn.query(`CREATE DATABASE \`${db}\``);
    cleanups.push(async () => {
      await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await conn.end();
    });
    await roundTrip(`mysql://root@127.0.0.1:3306/${db}`, '');
  });

  it('two processes migrating at once apply each migration once', async () => {
    const path = join(dir, 'race', 'catalog.sqlite');
    const [a, b] = await Promise.all([openCatalog({ sqlitePath: path, migrationsRun: true }), openCatalog({ sqlitePath: path, migrationsRun: true })]);
    const applied = await a.query(`SELECT name FROM backup_manager_migrations`);
    expect(applied).toHaveLength(CATALOG_MIGRATIONS.length);
    await a.destroy();
    await b.destroy();
  });
});
