import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { api, waitForBackup } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createMyDatabase, dropMyDatabase, myIdent, myQuery, myRows, myUrl } from './support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

/**
 * Table-level restores (`tables` on POST /backups/:id/restore) out of full backups, on both
 * engines: only the listed tables change (every other table's rows keep their digest), the listed
 * ones equal the backup, names with dots, quotes, spaces and capitals map exactly (look-alikes stay
 * untouched), the safety backup holds just those tables, a table another one depends on is
 * refused before anything changes, and a table the backup lacks is a 400.
 */
interface Engine {
  kind: 'postgres' | 'mysql';
  formats: string[];
  create(tag: string): Promise<string>;
  drop(db: string): Promise<void>;
  url(db: string): string;
  fill(db: string): Promise<void>;
  /** Changes the rows of every table. */
  scramble(db: string): Promise<void>;
  /** Table (API name) → digest of its rows; absent tables are left out. */
  digests(db: string): Promise<Record<string, string>>;
  /** Tables (API names) to restore together, beside their look-alikes. */
  tricky: string[];
  /** A table that another table references by foreign key, and that one. */
  referenced: [string, string];
  dropTable(db: string, name: string): Promise<void>;
  /** Inserts a row through the table's own id generator, after a restore. */
  insertAfter(db: string): Promise<void>;
}

const pgIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
/** API name → real (schema, table), PostgreSQL. */
const PG_TABLES: Record<string, [string, string]> = {
  orders: ['public', 'orders'],
  items: ['public', 'items'],
  fake: ['public', 'fake'],
  '"public.fake"': ['public', 'public.fake'],
  '"Mixed Case"': ['public', 'Mixed Case'],
  '"we.ird".fake': ['we.ird', 'fake'],
  'we."ird.fake"': ['we', 'ird.fake'],
  '"with space"': ['public', 'with space'],
};
const pgRel = (name: string) => PG_TABLES[name].map(pgIdent).join('.');

const postgres: Engine = {
  kind: 'postgres',
  formats: ['plain', 'custom'],
  create: (tag) => createPgDatabase(tag),
  drop: (db) => dropPgDatabase(db),
  url: (db) => `postgres://postgres@127.0.0.1:5432/${db}`,
  async fill(db) {
    await pgQuery(
      db,
      `CREATE SCHEMA "we.ird"; CREATE SCHEMA we;
       CREATE TABLE orders (id serial PRIMARY KEY, v text); CREATE INDEX orders_v ON orders (v);
       CREATE TABLE items (id int PRIMARY KEY, order_id int REFERENCES orders (id), v text);
       CREATE TABLE "Mixed Case" (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
       COMMENT ON TABLE "Mixed Case" IS 'kept with its table';`,
    );
    for (const name of ['fake', '"public.fake"', '"we.ird".fake', 'we."ird.fake"', '"with space"']) await pgQuery(db, `CREATE TABLE ${pgRel(name)} (id int PRIMARY KEY, v text)`);
    await pgQuery(db, `INSERT INTO orders (v) SELECT 'order ' || g FROM generate_series(1, 30) g`);
    await pgQuery(db, `INSERT INTO items SELECT g, 1 + g % 30, E'item\\n' || g FROM generate_series(1, 60) g`);
    await pgQuery(db, `INSERT INTO "Mixed Case" (v) SELECT 'mc ' || g FROM generate_series(1, 25) g`);
    for (const [i, name] of ['fake', '"public.fake"', '"we.ird".fake', 'we."ird.fake"', '"with space"'].entries()) {
      await pgQuery(db, `INSERT INTO ${pgRel(name)} SELECT g, '${name.replace(/'/g, "''")} ' || g FROM generate_series(1, ${10 + i}) g`);
    }
  },
  async scramble(db) {
    for (const name of Object.keys(PG_TABLES)) await pgQuery(db, `UPDATE ${pgRel(name)} SET v = v || ' changed'`);
    await pgQuery(db, `DELETE FROM items WHERE id > 50; INSERT INTO "Mixed Case" (v) VALUES ('added')`);
  },
  async digests(db) {
    const out: Record<string, string> = {};
    for (const name of Object.keys(PG_TABLES)) {
      const r = await pgQuery(db, `SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS h FROM ${pgRel(name)} x`).catch(() => undefined);
      if (r) out[name] = `${r[0].n}/${r[0].h}`;
    }
    return out;
  },
  tricky: ['"Mixed Case"', '"public.fake"', '"we.ird".fake'],
  referenced: ['orders', 'items'],
  dropTable: (db, name) => pgQuery(db, `DROP TABLE ${pgRel(name)}`).then(() => undefined),
  insertAfter: async (db) => {
    await pgQuery(db, `INSERT INTO "Mixed Case" (v) VALUES ('after')`);
    // The table came back with its primary key, identity and comment.
    const [r] = await pgQuery(db, `SELECT obj_description('"Mixed Case"'::regclass) AS c, (SELECT count(*)::int FROM pg_constraint WHERE conrelid = '"Mixed Case"'::regclass AND contype = 'p') AS pk`);
    expect(r).toEqual({ c: 'kept with its table', pk: 1 });
  },
};

const MY_TABLES = ['orders', 'items', 'fake', 'x.fake', 'Mixed Case', 'mixed case', 'with space', 'back`tick'];
const mysql: Engine = {
  kind: 'mysql',
  formats: ['plain'],
  create: (tag) => createMyDatabase(tag),
  drop: (db) => dropMyDatabase(db),
  url: (db) => myUrl(db),
  async fill(db) {
    await myQuery(db, [
      'CREATE TABLE orders (id int AUTO_INCREMENT PRIMARY KEY, v varchar(64), KEY orders_v (v))',
      'CREATE TABLE items (id int PRIMARY KEY, order_id int, v varchar(64), FOREIGN KEY (order_id) REFERENCES orders (id))',
      "INSERT INTO orders (v) SELECT CONCAT('order ', seq) FROM seq_1_to_30",
      "INSERT INTO items SELECT seq, 1 + seq % 30, CONCAT('item\\n', seq) FROM seq_1_to_60",
    ]);
    for (const [i, name] of MY_TABLES.slice(2).entries()) {
      await myQuery(db, [
        `CREATE TABLE ${myIdent(name)} (id int AUTO_INCREMENT PRIMARY KEY, v varchar(64)) DEFAULT CHARSET=utf8mb4`,
        `INSERT INTO ${myIdent(name)} SELECT seq, CONCAT(${JSON.stringify(name)}, ' ', seq) FROM seq_1_to_${10 + i}`,
      ]);
    }
    await myQuery(db, "CREATE TRIGGER mc_upper BEFORE INSERT ON `Mixed Case` FOR EACH ROW SET NEW.v = UPPER(NEW.v)");
  },
  async scramble(db) {
    for (const name of MY_TABLES) await myQuery(db, `UPDATE ${myIdent(name)} SET v = CONCAT(v, ' changed')`);
    await myQuery(db, ['DELETE FROM items WHERE id > 50', "INSERT INTO `Mixed Case` (v) VALUES ('added')"]);
  },
  async digests(db) {
    const rows = await myRows(db);
    return Object.fromEntries(Object.entries(rows).map(([t, text]) => [t, createHash('sha256').update(text).digest('hex')]));
  },
  tricky: ['Mixed Case', 'x.fake', 'back`tick'],
  referenced: ['orders', 'items'],
  dropTable: (db, name) => myQuery(db, `DROP TABLE ${myIdent(name)}`).then(() => undefined),
  insertAfter: async (db) => {
    await myQuery(db, "INSERT INTO `Mixed Case` (v) VALUES ('after')");
    const [r] = await myQuery(db, "SELECT v FROM `Mixed Case` WHERE v LIKE '%AFTER%'");
    // The trigger came back with its table.
    expect(r?.v).toBe('AFTER');
  },
};

describe.each([postgres, mysql])('$kind: restoring some tables out of a full backup', (engine) => {
  let t: TestApp;
  let db: string;
  const extra: string[] = [];
  const backups: Record<string, any> = {};
  let atBackup: Record<string, string>;

  async function restore(id: string, body: Record<string, unknown>): Promise<any> {
    const r = await api(t, 'POST', `/api/v1/backups/${id}/restore`, { body: { confirm: true, ...body } });
    expect(r.status).toBe(202);
    expect(r.body.tables).toEqual(body.tables ?? null);
    return waitFor(async () => {
      const x = await api(t, 'GET', `/api/v1/restores/${r.body.id}`);
      return ['COMPLETED', 'FAILED'].includes(x.body?.status) ? x.body : undefined;
    }, `restore ${r.body.id}`, 120_000);
  }

  beforeAll(async () => {
    db = await engine.create('rtables');
    await engine.fill(db);
    t = await startTestApp({ BACKUP_TARGET_APP_URL: engine.url(db) });
    atBackup = await engine.digests(db);
    for (const format of engine.formats) {
      const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', ...(engine.kind === 'postgres' ? { format } : {}) } });
      expect(r.status).toBe(202);
      const b = await waitForBackup(t, r.body.id);
      expect(b.errorMessage).toBeNull();
      backups[format] = b;
    }
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    for (const d of [db, ...extra]) if (d) await engine.drop(d);
  });

  it.each(postgres.formats.filter((f) => engine.formats.includes(f)))(
    'in place (%s): the listed tables get the backup\'s rows, their look-alikes and every other table keep theirs, and the safety backup holds just the listed tables',
    async (format) => {
      await engine.scramble(db);
      const before = await engine.digests(db);
      for (const name of engine.tricky) expect(before[name]).not.toBe(atBackup[name]);
      const run = await restore(backups[format].id, { tables: engine.tricky });
      expect(run.errorMessage).toBeNull();
      expect(run.status).toBe('COMPLETED');
      const after = await engine.digests(db);
      for (const [name, digest] of Object.entries(after)) expect([name, digest]).toEqual([name, engine.tricky.includes(name) ? atBackup[name] : before[name]]);
      expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
      await engine.insertAfter(db);

      const safety = (await api(t, 'GET', `/api/v1/backups/${run.safetyBackupId}`)).body;
      expect(safety.scope).toBe('selective');
      expect([...safety.tables].sort()).toEqual([...engine.tricky].sort());
      // Put the database back to the backup for the next case.
      const all = await restore(backups[format].id, { safetyBackup: false });
      expect(all.status).toBe('COMPLETED');
    },
    120_000,
  );

  it('into a new database: only the listed tables are there, equal to the backup', async () => {
    const copy = `${db}_t${engine.kind === 'postgres' ? 'p' : 'm'}`;
    extra.push(copy);
    const run = await restore(backups.plain.id, { targetDatabase: copy, tables: [engine.tricky[1], ...engine.referenced] });
    expect(run.errorMessage).toBeNull();
    expect(run.status).toBe('COMPLETED');
    const there = await engine.digests(copy);
    expect(Object.keys(there).sort()).toEqual([engine.tricky[1], ...engine.referenced].sort());
    for (const [name, digest] of Object.entries(there)) expect([name, digest]).toEqual([name, atBackup[name]]);
  });

  it('a table dropped since the backup comes back; with nothing to save, no safety backup is taken', async () => {
    await engine.dropTable(db, engine.tricky[2]);
    const before = await engine.digests(db);
    const run = await restore(backups.plain.id, { tables: [engine.tricky[2]] });
    expect(run.errorMessage).toBeNull();
    expect(run.status).toBe('COMPLETED');
    expect(run.safetyBackupId).toBeNull();
    expect(run.metadata.safetyBackupSkipped).toMatch(/nothing to save/);
    expect(await engine.digests(db)).toEqual({ ...before, [engine.tricky[2]]: atBackup[engine.tricky[2]] });
  });

  it('a table that a table left in place references is refused before anything changes; both together restore', async () => {
    await engine.scramble(db);
    const before = await engine.digests(db);
    const [referenced, referencing] = engine.referenced;
    const refused = await restore(backups.plain.id, { tables: [referenced], safetyBackup: false });
    expect(refused.status).toBe('FAILED');
    expect(refused.errorMessage).toMatch(/reference|depend/);
    expect(refused.errorMessage).toMatch(/not changed/);
    expect(await engine.digests(db)).toEqual(before);
    const both = await restore(backups.plain.id, { tables: [referencing, referenced], safetyBackup: false });
    expect(both.errorMessage).toBeNull();
    expect(await engine.digests(db)).toEqual({ ...before, [referenced]: atBackup[referenced], [referencing]: atBackup[referencing] });
  });

  it('a table the backup does not hold is a 400 naming it, and nothing is recorded', async () => {
    const before = (await api(t, 'GET', '/api/v1/restores?limit=100')).body.total;
    const r = await api(t, 'POST', `/api/v1/backups/${backups.plain.id}/restore`, { body: { confirm: true, tables: [engine.tricky[0], 'no_such_table'] } });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('TABLE_NOT_IN_BACKUP');
    expect(r.body.message).toContain('"no_such_table"');
    expect(r.body.message).toContain(engine.tricky[0]);
    const empty = await api(t, 'POST', `/api/v1/backups/${backups.plain.id}/restore`, { body: { confirm: true, tables: [] } });
    expect(empty.status).toBe(400);
    expect(empty.body.code).toBe('VALIDATION_FAILED');
    expect((await api(t, 'GET', '/api/v1/restores?limit=100')).body.total).toBe(before);
  });
});
