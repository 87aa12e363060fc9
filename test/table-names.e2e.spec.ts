import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { api, waitForBackup } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createMyDatabase, dropMyDatabase, myIdent, myQuery, myUrl } from './support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

/**
 * Table names with dots, quotes, spaces, capitals and non-ASCII letters, beside look-alikes that
 * a sloppy mapping would confuse with them, through every path: table list, selective and full
 * dumps, row counts, drills, data-only and schema+data restores, on both engines.
 */
interface Engine {
  kind: 'postgres' | 'mysql';
  create(tag: string): Promise<string>;
  drop(db: string): Promise<void>;
  url(db: string): string;
  /** Every table as the API names it, with its real (schema, table) for the test's own SQL. */
  tables: Array<{ name: string; schema?: string; table: string }>;
  /** Pairs [tricky, look-alike] a wrong mapping would mix up. */
  lookalikes: Array<[string, string]>;
  /** Request spellings that must map to the canonical name (PostgreSQL: the qualified and plain forms). */
  spellings: Array<[string, string]>;
  /** Names a request must refuse with a 400, and a fragment of the message. */
  malformed: Array<[string, string]>;
  sql(db: string, sql: string): Promise<unknown>;
  rel(t: { schema?: string; table: string }): string;
}

const pgIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

const postgres: Engine = {
  kind: 'postgres',
  create: (tag) => createPgDatabase(tag),
  drop: (db) => dropPgDatabase(db),
  url: (db) => `postgres://postgres@127.0.0.1:5432/${db}`,
  tables: [
    { name: 'fake', schema: 'public', table: 'fake' },
    { name: '"public.fake"', schema: 'public', table: 'public.fake' },
    { name: '"Mixed Case"', schema: 'public', table: 'Mixed Case' },
    { name: '"quo""te"', schema: 'public', table: 'quo"te' },
    { name: '"with space"', schema: 'public', table: 'with space' },
    { name: '"naïve"', schema: 'public', table: 'naïve' },
    { name: '"ünïcödé.tâble"', schema: 'public', table: 'ünïcödé.tâble' },
    { name: 'user', schema: 'public', table: 'user' },
    { name: '"f*"', schema: 'public', table: 'f*' },
    { name: '"we.ird".fake', schema: 'we.ird', table: 'fake' },
    { name: '"we.ird"."ünïcödé.tâble"', schema: 'we.ird', table: 'ünïcödé.tâble' },
    { name: 'we."ird.fake"', schema: 'we', table: 'ird.fake' },
  ],
  lookalikes: [
    ['"public.fake"', 'fake'],
    ['"we.ird".fake', 'we."ird.fake"'],
  ],
  spellings: [
    ['public."public.fake"', '"public.fake"'],
    ['public.fake', 'fake'],
    ['"public"."fake"', 'fake'],
    ['Mixed Case', '"Mixed Case"'],
    ['public.naïve', '"naïve"'],
    ['"user"', 'user'],
  ],
  malformed: [
    ['we.ird.fake', 'quote'],
    ['"unterminated', 'quote'],
    ['quo"te', 'quote'],
    ['public.', 'empty'],
    ['""', 'empty'],
  ],
  sql: (db, sql) => pgQuery(db, sql),
  rel: (t) => `${pgIdent(t.schema!)}.${pgIdent(t.table)}`,
};

const mysql: Engine = {
  kind: 'mysql',
  create: (tag) => createMyDatabase(tag),
  drop: (db) => dropMyDatabase(db),
  url: (db) => myUrl(db),
  tables: ['fake', 'public.fake', 'back`tick', 'with space', 'Mixed Case', 'mixed case', 'naïve', 'ünïcödé.tâble', 'a_b', 'axb', 'f%', `it's "q"`].map((n) => ({ name: n, table: n })),
  lookalikes: [
    ['public.fake', 'fake'],
    ['a_b', 'axb'],
    ['Mixed Case', 'mixed case'],
  ],
  spellings: [],
  malformed: [],
  sql: (db, sql) => myQuery(db, sql),
  rel: (t) => myIdent(t.table),
};

describe.each([postgres, mysql])('$kind: table names round-trip exactly', (engine) => {
  let t: TestApp;
  let source: string;
  const dbs: string[] = [];
  const byName = new Map(engine.tables.map((x) => [x.name, x]));
  /** Rows at fill time: table i holds i + 1 rows, so every table's count is different. */
  const filled = Object.fromEntries(engine.tables.map((x, i) => [x.name, i + 1]));

  async function count(db: string, name: string): Promise<number> {
    const [r] = (await engine.sql(db, `SELECT COUNT(*) AS n FROM ${engine.rel(byName.get(name)!)}`)) as Array<{ n: string | number }>;
    return Number(r.n);
  }

  async function counts(db: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const x of engine.tables) out[x.name] = await count(db, x.name);
    return out;
  }

  async function addRows(db: string, name: string, n: number): Promise<void> {
    await engine.sql(db, `INSERT INTO ${engine.rel(byName.get(name)!)} (v) ${engine.kind === 'postgres' ? `SELECT g FROM generate_series(1000, ${999 + n}) g` : `VALUES ${Array.from({ length: n }, (_, i) => `(${1000 + i})`).join(', ')}`}`);
  }

  /** PostgreSQL restores both dump formats (a custom archive's script goes through the same prelude). */
  const formats = engine.kind === 'postgres' ? ['plain', 'custom'] : ['plain'];

  async function fill(db: string): Promise<void> {
    if (engine.kind === 'postgres') await pgQuery(db, 'CREATE SCHEMA "we.ird"; CREATE SCHEMA we;');
    for (const [i, x] of engine.tables.entries()) {
      const charset = engine.kind === 'mysql' ? ' DEFAULT CHARSET=utf8mb4' : '';
      await engine.sql(db, `CREATE TABLE ${engine.rel(x)} (v int PRIMARY KEY)${charset}`);
      await engine.sql(db, `INSERT INTO ${engine.rel(x)} (v) VALUES ${Array.from({ length: i + 1 }, (_, k) => `(${k + 1})`).join(', ')}`);
    }
  }

  async function backup(body: Record<string, unknown>): Promise<any> {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', ...body, format: engine.kind === 'postgres' ? (body.format ?? 'plain') : undefined } });
    expect(r.status).toBe(202);
    const done = await waitForBackup(t, r.body.id);
    expect(done.errorMessage).toBeNull();
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    return done;
  }

  async function restore(id: string, body: Record<string, unknown> = {}): Promise<any> {
    const r = await api(t, 'POST', `/api/v1/backups/${id}/restore`, { body: { confirm: true, safetyBackup: false, ...body } });
    expect(r.status).toBe(202);
    const run = await waitFor(async () => {
      const x = await api(t, 'GET', `/api/v1/restores/${r.body.id}`);
      return ['COMPLETED', 'FAILED'].includes(x.body?.status) ? x.body : undefined;
    }, `restore ${r.body.id}`, 120_000);
    expect(run.errorMessage).toBeNull();
    expect(run.status).toBe('COMPLETED');
    return run;
  }

  async function drill(id: string): Promise<any> {
    // A basic verification runs after every backup; wait for it so the drill's result is the last word.
    await waitFor(async () => ['VERIFIED', 'CORRUPTED'].includes((await api(t, 'GET', `/api/v1/backups/${id}`)).body.status), `verification of ${id}`);
    const r = await api(t, 'POST', `/api/v1/backups/${id}/verify`, { body: { drill: true } });
    expect(r.status).toBe(202);
    return waitFor(async () => {
      const x = await api(t, 'GET', `/api/v1/backups/${id}`);
      return x.body.metadata?.drill ? x.body : undefined;
    }, `drill of ${id}`, 120_000);
  }

  beforeAll(async () => {
    source = await engine.create('names');
    dbs.push(source);
    await fill(source);
    t = await startTestApp({ BACKUP_TARGET_APP_URL: engine.url(source) });
  });

  afterAll(async () => {
    await t?.close();
    for (const db of dbs) await engine.drop(db);
  });

  it('lists every table exactly once, in the canonical form', async () => {
    const r = await api(t, 'GET', '/api/v1/targets/app/tables', { token: t.token('viewer') });
    expect(r.status).toBe(200);
    const names: string[] = r.body.tables.map((x: any) => x.name);
    expect([...names].sort()).toEqual(engine.tables.map((x) => x.name).sort());
  });

  it('records a selective backup under the canonical name whichever accepted spelling asked for it, and refuses malformed names', async () => {
    for (const [asked, canonical] of engine.spellings) {
      const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', scope: 'selective', tables: [asked, canonical] } });
      expect(r.status).toBe(202);
      expect(r.body.tables).toEqual([canonical]);
      await waitForBackup(t, r.body.id);
    }
    for (const [bad, hint] of engine.malformed) {
      const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', scope: 'selective', tables: [bad] } });
      expect(r.status).toBe(400);
      expect(r.body.message).toContain(JSON.stringify(bad));
      expect(r.body.message).toContain(hint);
    }
    // Schedules keep their tables in the same form, and refuse the same names.
    const schedule = { name: `names-${engine.kind}`, target: 'app', preset: 'daily', enabled: false, scope: 'selective' };
    const asked = [...engine.spellings.map(([a]) => a), ...engine.tables.map((x) => x.name)];
    const created = await api(t, 'POST', '/api/v1/schedules', { body: { ...schedule, tables: asked } });
    expect(created.status).toBe(201);
    expect(created.body.tables).toEqual([...new Set([...engine.spellings.map(([, c]) => c), ...engine.tables.map((x) => x.name)])]);
    for (const [bad, hint] of engine.malformed) {
      const r = await api(t, 'POST', '/api/v1/schedules', { body: { ...schedule, name: 'names-bad', tables: [bad] } });
      expect(r.status).toBe(400);
      expect(r.body.message).toContain(hint);
    }
  });

  it.each(formats)('a selective %s backup of one tricky table holds exactly that table: row counts keyed by its name, and a drill passes', async (format) => {
    for (const { name } of engine.tables.filter((x) => x.name !== 'fake')) {
      const b = await backup({ scope: 'selective', tables: [name], format });
      expect(b.tables).toEqual([name]);
      expect(b.metadata.tableRows).toEqual({ [name]: filled[name] });
      const d = await drill(b.id);
      expect([name, d.metadata.drill]).toMatchObject([name, { ok: true, tables: 1, rows: filled[name] }]);
      expect(d.status).toBe('VERIFIED');
    }
  });

  it.each(formats)('a full %s backup counts the rows of every table under its canonical name, and its drill passes', async (format) => {
    const b = await backup({ format });
    expect(b.metadata.tableRows).toEqual(filled);
    const d = await drill(b.id);
    expect(d.metadata.drill).toMatchObject({ ok: true, tables: engine.tables.length });
    expect(d.status).toBe('VERIFIED');
  });

  it.each(formats)('a data-only restore (%s) of one table replaces its rows and leaves the look-alike alone', async (format) => {
    for (const [tricky, lookalike] of engine.lookalikes) {
      const before = await counts(source);
      const b = await backup({ scope: 'selective', tables: [tricky], includeSchema: false, format });
      await addRows(source, tricky, 3);
      await addRows(source, lookalike, 2);
      await restore(b.id);
      expect(await count(source, tricky)).toBe(before[tricky]);
      expect(await count(source, lookalike)).toBe(before[lookalike] + 2);
      // Put the look-alike back as it was for the next tests.
      await engine.sql(source, `DELETE FROM ${engine.rel(byName.get(lookalike)!)} WHERE v >= 1000`);
    }
    expect(await counts(source)).toEqual(filled);
  });

  it.each(formats)('a full data-only restore (%s) puts every table back exactly (no duplicates, no table missed)', async (format) => {
    const b = await backup({ includeSchema: false, format });
    expect(b.metadata.tableRows).toEqual(filled);
    for (const { name } of engine.tables) await addRows(source, name, 1);
    await restore(b.id);
    expect(await counts(source)).toEqual(filled);
  });

  it.each(formats)('a schema+data restore (%s) of one tricky table recreates it and leaves the look-alike alone', async (format) => {
    for (const [tricky, lookalike] of engine.lookalikes) {
      const b = await backup({ scope: 'selective', tables: [tricky], format });
      await addRows(source, tricky, 3);
      await addRows(source, lookalike, 2);
      await restore(b.id);
      expect(await count(source, tricky)).toBe(filled[tricky]);
      expect(await count(source, lookalike)).toBe(filled[lookalike] + 2);
      await engine.sql(source, `DELETE FROM ${engine.rel(byName.get(lookalike)!)} WHERE v >= 1000`);
    }
    expect(await counts(source)).toEqual(filled);
  });

  it('a full schema+data restore into a new database brings back every table under its name', async () => {
    const b = await backup({});
    const copy = `bmt_namescopy_${Math.random().toString(16).slice(2, 10)}`;
    dbs.push(copy);
    await restore(b.id, { targetDatabase: copy });
    expect(await counts(copy)).toEqual(filled);
    const r = await api(t, 'GET', '/api/v1/targets/app/tables');
    expect(r.body.tables.map((x: any) => x.name).sort()).toEqual(engine.tables.map((x) => x.name).sort());
  });
});
