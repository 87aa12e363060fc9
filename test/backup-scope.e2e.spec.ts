import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, downloadBytes, waitForBackup } from './support/api.js';
import { startTestApp, type TestApp } from './support/app.js';
import { decompress } from './support/codec.js';
import { createMyDatabase, dropMyDatabase, mariadbLoad, myIdent, myQuery, myUrl } from './support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgQuery, psqlLoad } from './support/pg.js';

/** Table names that must never reach a shell or be read as an option, yet back up literally. */
const ODD = ['Odd Table', '--result-file=/tmp/bm-scope-x', 'x; DROP TABLE y', '日本-t', `it's "q"`];
const SENTINEL = '/tmp/bm-scope-x';

/** What the test needs of each engine, keyed by the names the API uses. */
interface Engine {
  kind: 'postgres' | 'mysql';
  create(tag: string): Promise<string>;
  drop(db: string): Promise<void>;
  url(db: string): string;
  fill(db: string): Promise<void>;
  /** Loads a plain dump as a user would (psql / mariadb client). */
  load(db: string, sql: Buffer): Promise<void>;
  /** Table name (as the API writes it) → sorted rows as JSON text. */
  rows(db: string): Promise<Record<string, string>>;
  /** The API's name of a table in the default schema. */
  apiName(table: string): string;
}

/** PostgreSQL's canonical table text, written independently of the code under test. */
const pgPart = (s: string) => (/^[a-z_][a-z0-9_]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);

const postgres: Engine = {
  kind: 'postgres',
  create: (tag) => createPgDatabase(tag),
  drop: (db) => dropPgDatabase(db),
  url: (db) => `postgres://postgres@127.0.0.1:5432/${db}`,
  async fill(db) {
    await pgQuery(db, `
      CREATE SCHEMA sales;
      CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
      CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(10,2));
      CREATE TABLE sales.items (id int PRIMARY KEY, label text);
      CREATE TABLE "dot.ted" (v int);
      INSERT INTO customers (name) SELECT 'c' || g || ' 🚀' FROM generate_series(1, 40) g;
      INSERT INTO orders (customer_id, total) SELECT 1 + g % 40, g * 1.5 FROM generate_series(1, 120) g;
      INSERT INTO sales.items SELECT g, 'item ' || g FROM generate_series(1, 7) g;
      INSERT INTO "dot.ted" VALUES (1), (2);
    `);
    for (const [i, name] of ODD.entries()) {
      const q = `"${name.replace(/"/g, '""')}"`;
      await pgQuery(db, `CREATE TABLE ${q} ("weird col" text, n int)`);
      await pgQuery(db, `INSERT INTO ${q} VALUES ($1, $2), ('row two', $2)`, [`value of ${name}`, i]);
    }
  },
  load: (db, sql) => psqlLoad(db, sql),
  async rows(db) {
    const tables = await pgQuery<{ s: string; t: string }>(db, `SELECT table_schema AS s, table_name AS t FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`);
    const out: Record<string, string> = {};
    for (const { s, t } of tables) {
      const rel = `"${s.replace(/"/g, '""')}"."${t.replace(/"/g, '""')}"`;
      const [r] = await pgQuery(db, `SELECT coalesce(json_agg(x ORDER BY x::text), '[]')::text AS j FROM ${rel} x`);
      out[s === 'public' ? pgPart(t) : `${pgPart(s)}.${pgPart(t)}`] = r.j;
    }
    return out;
  },
  apiName: pgPart,
};

const mysql: Engine = {
  kind: 'mysql',
  create: (tag) => createMyDatabase(tag),
  drop: (db) => dropMyDatabase(db),
  url: (db) => myUrl(db),
  async fill(db) {
    await myQuery(db, [
      'CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, name_upper VARCHAR(100)) DEFAULT CHARSET=utf8mb4',
      'CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT, total DECIMAL(10,2), FOREIGN KEY (customer_id) REFERENCES customers(id))',
      'CREATE TRIGGER customers_bi BEFORE INSERT ON customers FOR EACH ROW SET NEW.name_upper = UPPER(NEW.name)',
      'CREATE PROCEDURE noop() BEGIN SELECT 1; END',
    ]);
    await myQuery(db, 'INSERT INTO customers (name) VALUES ?', [Array.from({ length: 40 }, (_, i) => [`c${i + 1} 🚀`])]);
    await myQuery(db, 'INSERT INTO orders (customer_id, total) VALUES ?', [Array.from({ length: 120 }, (_, i) => [1 + (i % 40), (i * 1.5).toFixed(2)])]);
    for (const [i, name] of ODD.entries()) {
      await myQuery(db, `CREATE TABLE ${myIdent(name)} (\`weird col\` TEXT, n INT) DEFAULT CHARSET=utf8mb4`);
      await myQuery(db, `INSERT INTO ${myIdent(name)} VALUES (?, ?), ('row two', ?)`, [`value of ${name}`, i, i]);
    }
  },
  load: (db, sql) => mariadbLoad(db, sql),
  async rows(db) {
    const tables = await myQuery<{ t: string }>(undefined, `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1`, [db]);
    const out: Record<string, string> = {};
    for (const { t } of tables) {
      const rows = await myQuery(db, `SELECT * FROM ${myIdent(t)}`);
      out[t] = JSON.stringify(rows.map((r) => JSON.stringify(r)).sort());
    }
    return out;
  },
  apiName: (t) => t,
};

const pick = (all: Record<string, string>, names: string[]) => Object.fromEntries(names.map((n) => [n, all[n]]));
const sorted = (xs: string[]) => [...xs].sort();

describe.each([postgres, mysql])('$kind: partial, selective, schema-only and data-only backups', (engine) => {
  let t: TestApp;
  let source: string;
  let sourceRows: Record<string, string>;
  const dbs: string[] = [];

  beforeAll(async () => {
    source = await engine.create('scope');
    dbs.push(source);
    await engine.fill(source);
    sourceRows = await engine.rows(source);
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: engine.url(source),
      BACKUP_TARGET_APP_CORE_TABLES: engine.kind === 'postgres' ? 'customers, orders, sales.items' : 'customers,orders',
      BACKUP_TARGET_BARE_URL: engine.url(source),
      BACKUP_TARGET_GHOST_URL: engine.kind === 'postgres' ? 'postgres://nobody_here:S3cr3t@127.0.0.1:5432/nope_db' : 'mysql://nobody_here:S3cr3t@127.0.0.1:3306/nope_db',
    });
  });

  afterAll(async () => {
    await t?.close();
    for (const db of dbs) await engine.drop(db);
  });

  async function backup(body: Record<string, unknown>) {
    // These checks load the dump as a user would with psql, so PostgreSQL dumps are plain SQL here.
    const withFormat = engine.kind === 'postgres' && !body.format ? { ...body, format: 'plain' } : body;
    const created = await api(t, 'POST', '/api/v1/backups', { body: withFormat, token: t.token('operator') });
    expect(created.status).toBe(202);
    const done = await waitForBackup(t, created.body.id);
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    return done;
  }

  async function artifact(done: any): Promise<Buffer> {
    const dl = await downloadBytes(t, done.id);
    expect(dl.status).toBe(200);
    return decompress(dl.bytes, done.compression);
  }

  async function freshDb(tag: string): Promise<string> {
    const db = await engine.create(tag);
    dbs.push(db);
    if (engine.kind === 'postgres') await pgQuery(db, 'CREATE SCHEMA sales');
    return db;
  }

  it('selective: exactly the named tables, odd names included, nothing read as an option', async () => {
    const tables = ['customers', ...ODD].map(engine.apiName);
    const done = await backup({ target: 'app', scope: 'selective', tables });
    expect(done.scope).toBe('selective');
    expect(done.tables).toEqual(tables);
    const copy = await freshDb('sel');
    await engine.load(copy, await artifact(done));
    const got = await engine.rows(copy);
    expect(sorted(Object.keys(got))).toEqual(sorted(tables));
    expect(got).toEqual(pick(sourceRows, tables));
    expect(existsSync(SENTINEL)).toBe(false);
    const manifest = JSON.parse(readFileSync(join(t.config.options.storageDir, `${done.fileKey}.manifest.json`), 'utf8'));
    expect(manifest).toMatchObject({ scope: 'selective', tables });
  });

  it('partial: the configured core tables, recorded on the record', async () => {
    const core = engine.kind === 'postgres' ? ['customers', 'orders', 'sales.items'] : ['customers', 'orders'];
    const done = await backup({ target: 'app', scope: 'partial' });
    expect(done.scope).toBe('partial');
    expect(done.tables).toEqual(core);
    const copy = await freshDb('part');
    await engine.load(copy, await artifact(done));
    const got = await engine.rows(copy);
    expect(sorted(Object.keys(got))).toEqual(sorted(core));
    expect(got).toEqual(pick(sourceRows, core));
  });

  it('schema-only then data-only: the schema has no rows, and the data loads into it', async () => {
    const schema = await backup({ target: 'app', includeData: false });
    expect(schema).toMatchObject({ includeSchema: true, includeData: false });
    const copy = await engine.create('schema');
    dbs.push(copy);
    await engine.load(copy, await artifact(schema));
    const empty = await engine.rows(copy);
    expect(sorted(Object.keys(empty))).toEqual(sorted(Object.keys(sourceRows)));
    for (const rows of Object.values(empty)) expect(rows).toMatch(/^\[\]$/);

    const data = await backup({ target: 'app', includeSchema: false });
    expect(data).toMatchObject({ includeSchema: false, includeData: true });
    const sql = await artifact(data);
    expect(sql.toString('utf8')).not.toMatch(/CREATE TABLE/i);
    await engine.load(copy, sql);
    expect(await engine.rows(copy)).toEqual(sourceRows);
  });

  it('answers bad scope requests with a 400 that names the problem, and enqueues nothing', async () => {
    const before = (await api(t, 'GET', '/api/v1/backups?limit=1')).body.total;
    const post = (body: Record<string, unknown>) => api(t, 'POST', '/api/v1/backups', { body });
    const msg = (r: { body: any }) => JSON.stringify(r.body?.message);

    const unknown = await post({ target: 'app', scope: 'selective', tables: ['customers', 'no_such_table'] });
    expect(unknown.status).toBe(400);
    expect(msg(unknown)).toContain('no_such_table');
    expect(msg(unknown)).not.toContain('\\"customers\\"');
    for (const evil of ['y; DROP TABLE customers', '--result-file=/tmp/bm-scope-evil', '../../etc/passwd']) {
      const r = await post({ target: 'app', scope: 'selective', tables: [evil] });
      expect(r.status).toBe(400);
      expect(r.body.message).toContain(JSON.stringify(evil));
    }
    expect(existsSync('/tmp/bm-scope-evil')).toBe(false);

    const empty = await post({ target: 'app', scope: 'selective', tables: [] });
    expect(empty.status).toBe(400);
    expect(msg(empty)).toContain('non-empty tables list');
    expect((await post({ target: 'app', scope: 'selective' })).status).toBe(400);

    const noCore = await post({ target: 'bare', scope: 'partial' });
    expect(noCore.status).toBe(400);
    expect(msg(noCore)).toContain('BACKUP_TARGET_BARE_CORE_TABLES');

    const nothing = await post({ target: 'app', includeSchema: false, includeData: false });
    expect(nothing.status).toBe(400);
    expect(msg(nothing)).toContain('includeSchema and includeData cannot both be false');

    const tablesOnFull = await post({ target: 'app', tables: ['customers'] });
    expect(tablesOnFull.status).toBe(400);
    expect(msg(tablesOnFull)).toContain('selective');

    const badScope = await post({ target: 'app', scope: 'everything' });
    expect(badScope.status).toBe(400);
    expect(msg(badScope)).toContain('scope must be one of: full, partial, selective');
    const notArray = await post({ target: 'app', scope: 'selective', tables: 'customers' });
    expect(notArray.status).toBe(400);
    expect(msg(notArray)).toContain('tables must be an array');
    const notBool = await post({ target: 'app', includeData: 'no' });
    expect(notBool.status).toBe(400);
    expect(msg(notBool)).toContain('includeData must be true or false');

    const unreachable = await post({ target: 'ghost', scope: 'selective', tables: ['customers'] });
    expect(unreachable.status).toBe(503);
    expect(unreachable.text).not.toContain('S3cr3t');

    expect((await api(t, 'GET', '/api/v1/backups?limit=1')).body.total).toBe(before);
  });

  it('GET /targets/:name/tables lists the tables a selective backup accepts', async () => {
    const r = await api(t, 'GET', '/api/v1/targets/app/tables', { token: t.token('viewer') });
    expect(r.status).toBe(200);
    expect(sorted(r.body.tables.map((x: any) => x.name))).toEqual(sorted(Object.keys(sourceRows)));
    expect(r.body).toMatchObject({ target: 'app', engine: engine.kind, database: source, tableCount: Object.keys(sourceRows).length });
    for (const x of r.body.tables) {
      expect(typeof x.rowEstimate).toBe('number');
      expect(x.sizeBytes).toBeGreaterThan(0);
    }
    expect((await api(t, 'GET', '/api/v1/targets/nope/tables')).status).toBe(404);
    expect((await api(t, 'GET', '/api/v1/targets/app/tables', { token: null })).status).toBe(401);
  });
});

describe('PostgreSQL formats', () => {
  let t: TestApp;
  let source: string;
  const dbs: string[] = [];

  beforeAll(async () => {
    source = await postgres.create('fmt');
    dbs.push(source);
    await postgres.fill(source);
    t = await startTestApp({ BACKUP_TARGET_APP_URL: postgres.url(source) });
  });

  afterAll(async () => {
    await t?.close();
    for (const db of dbs) await postgres.drop(db);
  });

  it('writes a custom archive that pg_restore loads, and records the format', async () => {
    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', format: 'custom' } });
    expect(created.status).toBe(202);
    expect(created.body.format).toBe('custom');
    const done = await waitForBackup(t, created.body.id);
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    expect(done.fileKey).toMatch(/\.dump\.zst$/);
    const archive = decompress((await downloadBytes(t, done.id)).bytes, done.compression);
    expect(archive.subarray(0, 5).toString()).toBe('PGDMP');
    const copy = await postgres.create('fmtcopy');
    dbs.push(copy);
    const file = join(t.dataDir, 'archive.dump');
    writeFileSync(file, archive);
    await new Promise<void>((resolve, reject) => {
      const p = spawn('pg_restore', ['-h', '127.0.0.1', '-U', 'postgres', '-d', copy, '--no-owner', '--exit-on-error', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(err))));
    });
    expect(await postgres.rows(copy)).toEqual(await postgres.rows(source));
  });

  it('defaults PostgreSQL backups to the configured format', async () => {
    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    expect(created.body.format).toBe('custom');
    await waitForBackup(t, created.body.id);
  });
});
