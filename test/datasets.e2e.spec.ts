import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { api, downloadBytes, waitForBackup } from './support/api.js';
import { startTestApp, type TestApp } from './support/app.js';
import { decompress } from './support/codec.js';
import { createMyDatabase, datasetStream, dropMyDatabase, mariadbLoad, myObjects, myRowCounts, myUrl } from './support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgQuery, pgSnapshot, psqlLoad } from './support/pg.js';

/** Real schemas written by others (Chinook, Sakila), read in place from ../shared/datasets. */
const DIR = resolve(process.cwd(), '../shared/datasets');
const present = existsSync(join(DIR, 'chinook')) && existsSync(join(DIR, 'sakila'));
if (!present) console.warn(`datasets.e2e: ${DIR} is absent; the Chinook and Sakila round trips are SKIPPED`);
const maybe = present ? describe : describe.skip;

async function streamToBuffer(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** pg_restore reading the archive from stdin, as a streaming restore does. */
function pgRestoreStdin(db: string, archive: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('pg_restore', ['-h', '127.0.0.1', '-U', 'postgres', '-d', db, '--no-owner', '--exit-on-error'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`pg_restore exited ${code}: ${err}`))));
    p.stdin.end(archive);
  });
}

async function pgObjects(db: string) {
  const q = (sql: string) => pgQuery(db, sql);
  return {
    views: await q(`SELECT table_schema, table_name FROM information_schema.views WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`),
    routines: await q(`SELECT n.nspname, p.proname, p.prokind FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`),
    triggers: await q(`SELECT tgname, tgrelid::regclass::text AS tbl FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`),
    indexes: await q(`SELECT schemaname, tablename, indexname FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog') ORDER BY 1, 2, 3`),
  };
}

maybe('datasets: Chinook and Sakila round trips', () => {
  let t: TestApp;
  const my: Record<string, string> = {};
  const pg: Record<string, string> = {};
  const extraMy: string[] = [];
  const extraPg: string[] = [];

  beforeAll(async () => {
    my.chinook = await createMyDatabase('chinook');
    my.sakila = await createMyDatabase('sakila');
    pg.chinook = await createPgDatabase('chinook');
    await Promise.all([
      mariadbLoad(my.chinook, datasetStream(join(DIR, 'chinook/chinook-mysql.sql'), 'Chinook')),
      (async () => {
        await mariadbLoad(my.sakila, datasetStream(join(DIR, 'sakila/sakila-schema.sql'), 'sakila'));
        await mariadbLoad(my.sakila, datasetStream(join(DIR, 'sakila/sakila-data.sql'), 'sakila'));
      })(),
      (async () => psqlLoad(pg.chinook, await streamToBuffer(datasetStream(join(DIR, 'chinook/chinook-postgres.sql'), 'chinook'))))(),
    ]);
    t = await startTestApp({
      BACKUP_TARGET_MYCHINOOK_URL: myUrl(my.chinook),
      BACKUP_TARGET_SAKILA_URL: myUrl(my.sakila),
      BACKUP_TARGET_PGCHINOOK_URL: `postgres://postgres@127.0.0.1:5432/${pg.chinook}`,
    });
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    for (const db of [...Object.values(my), ...extraMy]) await dropMyDatabase(db);
    for (const db of [...Object.values(pg), ...extraPg]) await dropPgDatabase(db);
  });

  async function backup(target: string, body: Record<string, unknown> = {}): Promise<{ done: any; dump: Buffer }> {
    const created = await api(t, 'POST', '/api/v1/backups', { body: { target, ...body }, token: t.token('operator') });
    expect(created.status).toBe(202);
    const done = await waitForBackup(t, created.body.id, 120_000);
    expect(done.errorMessage ?? null).toBeNull();
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    const dl = await downloadBytes(t, done.id);
    return { done, dump: decompress(dl.bytes, done.compression) };
  }

  it.each([
    ['sakila', 16, 'the views, triggers, procedures and functions'],
    ['mychinook', 11, 'the tables'],
  ])('MariaDB %s: %i tables round trip with equal row counts and %s', async (target, tables) => {
    const source = target === 'sakila' ? my.sakila : my.chinook;
    const { done, dump } = await backup(target);
    expect(done.tableCount).toBe(tables);
    const copy = await createMyDatabase(`${target}_copy`);
    extraMy.push(copy);
    await mariadbLoad(copy, dump);
    expect(await myRowCounts(copy)).toEqual(await myRowCounts(source));
    const [before, after] = [await myObjects(source), await myObjects(copy)];
    expect(after).toEqual(before);
    expect(after.tables).toHaveLength(tables);
    if (target === 'sakila') {
      expect(after.views.length).toBeGreaterThanOrEqual(5);
      expect(after.triggers.length).toBeGreaterThanOrEqual(3);
      expect(after.routines.map((r: any) => r.type)).toEqual(expect.arrayContaining(['PROCEDURE', 'FUNCTION']));
    }
  });

  it('PostgreSQL Chinook: every row, index and routine round trips (plain and custom)', async () => {
    const before = await pgSnapshot(pg.chinook);
    expect(Object.keys(before)).toHaveLength(11);
    const { done, dump } = await backup('pgchinook', { format: 'plain' });
    expect(done.format).toBe('plain');
    const copy = await createPgDatabase('chinook_copy');
    extraPg.push(copy);
    await psqlLoad(copy, dump);
    expect(await pgSnapshot(copy)).toEqual(before);
    expect(await pgObjects(copy)).toEqual(await pgObjects(pg.chinook));

    const custom = await backup('pgchinook', { format: 'custom' });
    expect(custom.done.format).toBe('custom');
    const copy2 = await createPgDatabase('chinook_copy2');
    extraPg.push(copy2);
    await pgRestoreStdin(copy2, custom.dump);
    expect(await pgSnapshot(copy2)).toEqual(before);
    expect(await pgObjects(copy2)).toEqual(await pgObjects(pg.chinook));
  });

  it('Sakila selective: only the chosen tables, with their rows', async () => {
    const { done, dump } = await backup('sakila', { scope: 'selective', tables: ['actor', 'film_actor'] });
    expect(done.tables).toEqual(['actor', 'film_actor']);
    const copy = await createMyDatabase('sakila_sel');
    extraMy.push(copy);
    await mariadbLoad(copy, dump);
    const counts = await myRowCounts(copy);
    expect(Object.keys(counts)).toEqual(['actor', 'film_actor']);
    const source = await myRowCounts(my.sakila);
    expect(counts).toEqual({ actor: source.actor, film_actor: source.film_actor });
  });
});
