// @serial creates and refuses scratch-named databases with fixed names on the shared servers
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { getRepositoryToken } from '@nestjs/typeorm';
import { Redis } from 'ioredis';
import type { Repository } from 'typeorm';
import { CATALOG_CONNECTION } from '../src/catalog/catalog.js';
import { databaseKey } from '../src/common/database-key.js';
import { TargetLock } from '../src/common/target-lock.js';
import { ConfigError, loadConfig } from '../src/config/env.js';
import { resolveModuleOptions } from '../src/config/module-options.js';
import { RestoreRun, RestoreStatus } from '../src/restore/entities/restore-run.entity.js';
import { api, waitForBackup } from './support/api.js';
import { REDIS_URL, startTestApp, testEnv, waitFor, type TestApp } from './support/app.js';
import { createMyDatabase, dropMyDatabase, myQuery, myUrl } from './support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgQuery, pgSnapshot } from './support/pg.js';

const PG_SYSTEM = ['postgres', 'template0', 'template1', 'Template1'];
const MY_SYSTEM = ['mysql', 'information_schema', 'performance_schema', 'sys', 'INFORMATION_SCHEMA'];
const SCRATCH = ['bm_rs_0a1b2c', 'bm_old_0a1b2c', 'bm_drill_0a1b2c', 'BM_x'];
/** How many identical restore requests race in each round. */
const RACERS = 10;

/**
 * Where a restore may write, and one writer per physical database, on each catalog engine
 * (SQLite, PostgreSQL, MariaDB). Targets `app` and `app2` reach one database (`shared`) through two
 * spellings of the host; `other` is a third target's database; `spare` exists and belongs to no
 * target; both are allowed for `app` by BACKUP_TARGET_APP_RESTORE_DATABASES. `unrelated` exists
 * and is allowed for nobody.
 */
describe.each([['SQLite'], ['PostgreSQL'], ['MariaDB']])('restore destinations and one writer per database (%s catalog)', (catalog) => {
  let t: TestApp;
  let shared: string;
  let other: string;
  let spare: string;
  let unrelated: string;
  let my: string;
  let catalogUrl: string | undefined;
  const dropCatalog: Array<() => Promise<void>> = [];
  const extraDbs: string[] = [];
  let redis: Redis;
  let locks: TargetLock;
  const backups: Record<string, any> = {};

  const newDbName = (tag: string) => {
    const n = `bmt_${tag}_${randomBytes(4).toString('hex')}`;
    extraDbs.push(n);
    return n;
  };
  const pgKey = (database: string) => databaseKey({ engine: 'postgres', host: '127.0.0.1', port: 5432, database });
  const restore = (backupId: string, body: Record<string, unknown>) => api(t, 'POST', `/api/v1/backups/${backupId}/restore`, { body: { confirm: true, ...body } });
  const waitRestore = (id: string): Promise<any> =>
    waitFor(async () => {
      const r = await api(t, 'GET', `/api/v1/restores/${id}`);
      return r.body && !['QUEUED', 'RUNNING'].includes(r.body.status) ? r.body : undefined;
    }, `restore ${id} to end`, 180_000);
  const runsOf = async (backupId: string): Promise<any[]> => (await api(t, 'GET', `/api/v1/restores?backupId=${backupId}&limit=100`)).body.items;
  const backup = async (target: string): Promise<any> => {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target } });
    expect(r.status).toBe(202);
    const done = await waitForBackup(t, r.body.id, 120_000);
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    return done;
  };
  const tableNames = async (db: string) => Object.keys(await pgSnapshot(db));

  beforeAll(async () => {
    shared = await createPgDatabase('dest_shared');
    await pgQuery(shared, `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 40000) g;`);
    other = await createPgDatabase('dest_other');
    await pgQuery(other, `CREATE TABLE other_rows (id int PRIMARY KEY); INSERT INTO other_rows SELECT generate_series(1, 10);`);
    spare = await createPgDatabase('dest_spare');
    await pgQuery(spare, `CREATE TABLE spare_rows (id int PRIMARY KEY, v text); INSERT INTO spare_rows SELECT g, 'spare ' || g FROM generate_series(1, 25) g;`);
    unrelated = await createPgDatabase('dest_unrelated');
    await pgQuery(unrelated, `CREATE TABLE precious (id int PRIMARY KEY); INSERT INTO precious SELECT generate_series(1, 7);`);
    my = await createMyDatabase('dest_my');
    await myQuery(my, ['CREATE TABLE t (id INT PRIMARY KEY)', 'INSERT INTO t VALUES (1), (2)']);
    if (catalog === 'PostgreSQL') {
      const db = await createPgDatabase('dest_catalog');
      dropCatalog.push(() => dropPgDatabase(db));
      catalogUrl = `postgres://postgres@127.0.0.1:5432/${db}`;
    } else if (catalog === 'MariaDB') {
      const db = await createMyDatabase('dest_catalog');
      dropCatalog.push(() => dropMyDatabase(db));
      catalogUrl = myUrl(db);
    }
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${shared}`,
      BACKUP_TARGET_APP2_URL: `postgres://postgres@LocalHost:5432/${shared}`,
      BACKUP_TARGET_OTHER_URL: `postgres://postgres@127.0.0.1:5432/${other}`,
      BACKUP_TARGET_APP_RESTORE_DATABASES: ` ${other}, ${spare} `,
      BACKUP_TARGET_MY_URL: myUrl(my),
      WORKER_CONCURRENCY: '4',
      ...(catalogUrl ? { CATALOG_URL: catalogUrl } : {}),
    });
    redis = new Redis(REDIS_URL);
    locks = new TargetLock(redis, t.env.QUEUE_PREFIX, 5_000);
    backups.app = await backup('app');
    backups.app2 = await backup('app2');
    backups.my = await backup('my');
  }, 240_000);

  afterAll(async () => {
    redis?.disconnect();
    await t?.close();
    for (const db of [shared, other, spare, unrelated, ...extraDbs]) if (db) await dropPgDatabase(db);
    if (my) await dropMyDatabase(my);
    for (const drop of dropCatalog) await drop();
  });

  it("refuses every system database of both engines and the tool's scratch names, and records nothing", async () => {
    for (const [b, names] of [[backups.app, [...PG_SYSTEM, ...MY_SYSTEM, ...SCRATCH]], [backups.my, [...MY_SYSTEM, ...PG_SYSTEM, ...SCRATCH]]] as const) {
      for (const name of names) {
        const r = await restore(b.id, { targetDatabase: name, dropExisting: true });
        expect([r.status, name]).toEqual([403, name]);
        expect(r.body.message).toContain(`"${name}"`);
        expect(r.body.message).toMatch(/system database|scratch database/);
      }
      expect(await runsOf(b.id)).toEqual([]);
    }
    // Both template databases are still there.
    expect(await pgQuery('postgres', `SELECT datname FROM pg_database WHERE datname IN ('template0', 'template1') ORDER BY 1`)).toEqual([{ datname: 'template0' }, { datname: 'template1' }]);
  });

  it('refuses an existing database that is neither the target\'s nor allowed for it, naming the setting that allows it', async () => {
    const before = await pgSnapshot(unrelated);
    const r = await restore(backups.app.id, { targetDatabase: unrelated, dropExisting: true });
    expect(r.status).toBe(403);
    expect(r.body.message).toContain(`"${unrelated}" already exists`);
    expect(r.body.message).toContain('BACKUP_TARGET_APP_RESTORE_DATABASES');
    // `other` is allowed for app, not for app2.
    const r2 = await restore(backups.app2.id, { targetDatabase: other });
    expect(r2.status).toBe(403);
    expect(r2.body.message).toContain('BACKUP_TARGET_APP2_RESTORE_DATABASES');
    expect(await pgSnapshot(unrelated)).toEqual(before);
    expect(await runsOf(backups.app.id)).toEqual([]);
    expect(await runsOf(backups.app2.id)).toEqual([]);
  });

  it('restores into an allowed database after a safety backup of it, recorded under the restoring target, which restores back into it', async () => {
    const before = await pgSnapshot(spare);
    const r = await restore(backups.app.id, { targetDatabase: spare, dropExisting: true });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ database: spare, intoOtherDatabase: true, safetyBackup: true });
    const run = await waitRestore(r.body.id);
    expect([run.status, run.errorMessage]).toEqual(['COMPLETED', null]);
    expect(await tableNames(spare)).toContain('public.items');

    const safety = (await api(t, 'GET', `/api/v1/backups/${run.safetyBackupId}`)).body;
    expect(safety).toMatchObject({ target: 'app', triggeredBy: `restore:${run.id}` });
    expect(safety.metadata.database).toBe(spare);
    expect(safety.description).toContain(spare);
    // The safety backup of a database other than its target's goes back into that database by default.
    const back = await restore(safety.id, {});
    expect(back.status).toBe(202);
    expect(back.body.database).toBe(spare);
    expect((await waitRestore(back.body.id)).status).toBe('COMPLETED');
    // pg_restore --clean replaces what the archive holds (docs/restore.md): the rows of spare are back.
    expect((await pgSnapshot(spare))['public.spare_rows']).toEqual(before['public.spare_rows']);
  });

  it("restores into another target's database (allowed for it) after a safety backup taken through that target", async () => {
    const before = await pgSnapshot(other);
    const run = await waitRestore((await restore(backups.app.id, { targetDatabase: other, dropExisting: true })).body.id);
    expect([run.status, run.errorMessage]).toEqual(['COMPLETED', null]);
    expect(await tableNames(other)).toContain('public.items');
    const safety = (await api(t, 'GET', `/api/v1/backups/${run.safetyBackupId}`)).body;
    expect(safety).toMatchObject({ target: 'other', triggeredBy: `restore:${run.id}` });
    expect(safety.metadata.database).toBe(other);
    expect((await waitRestore((await restore(safety.id, {})).body.id)).status).toBe('COMPLETED');
    expect((await pgSnapshot(other))['public.other_rows']).toEqual(before['public.other_rows']);
  });

  it('creates a database that does not exist yet, and refuses at run time one that was created after the request', async () => {
    const fresh = newDbName('dest_new');
    const r = await restore(backups.app.id, { targetDatabase: fresh });
    expect(r.status).toBe(202);
    const run = await waitRestore(r.body.id);
    expect([run.status, run.errorMessage, run.safetyBackupId]).toEqual(['COMPLETED', null, null]);
    expect(run.metadata.createdDatabase).toBe(true);
    // A whole custom archive: the database came into being as the loaded scratch database renamed to it.
    expect(run.metadata.createdAtCommit).toBe(true);
    expect((await pgQuery(fresh, 'SELECT count(*)::int AS n FROM items'))[0].n).toBe(40000);

    // New at request time, but someone creates it before the run starts (the run waits for the lock).
    const late = newDbName('dest_late');
    const held = await locks.acquire(pgKey(late), 'test:hold', { waitMs: 10_000 });
    const queued = await restore(backups.app.id, { targetDatabase: late, dropExisting: true });
    expect(queued.status).toBe(202);
    await pgQuery('postgres', `CREATE DATABASE "${late}"`);
    await pgQuery(late, 'CREATE TABLE theirs (id int); INSERT INTO theirs VALUES (42);');
    await held.release();
    const refused = await waitRestore(queued.body.id);
    expect(refused.status).toBe('FAILED');
    expect(refused.errorMessage).toContain(`"${late}" exists now`);
    expect(refused.errorMessage).toContain('BACKUP_TARGET_APP_RESTORE_DATABASES');
    expect(await pgQuery(late, 'SELECT id FROM theirs')).toEqual([{ id: 42 }]);
  });

  it("A's restore into the database it shares with B waits for B's backup, takes a safety backup, and shuts out B's own restore", async () => {
    // Hold the database's lock so that B's backup and A's restore both wait for it.
    const held = await locks.acquire(pgKey(shared), 'test:hold', { waitMs: 10_000 });
    const bBackup = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app2' } });
    expect(bBackup.status).toBe(202);
    const a = await restore(backups.app.id, {});
    expect(a.status).toBe(202);
    expect(a.body).toMatchObject({ database: shared, safetyBackup: true });
    for (const [b, body] of [[backups.app2, {}], [backups.app, {}], [backups.app2, { safetyBackup: false }]] as const) {
      const r = await restore(b.id, body);
      expect(r.status).toBe(409);
      expect(r.body.message).toContain(a.body.id);
    }
    expect((await api(t, 'GET', `/api/v1/restores/${a.body.id}`)).body.status).toBe('QUEUED');
    expect((await api(t, 'GET', `/api/v1/backups/${bBackup.body.id}`)).body.status).toBe('QUEUED');
    await held.release();

    const run = await waitRestore(a.body.id);
    const bk = await waitForBackup(t, bBackup.body.id, 120_000);
    expect([run.status, run.errorMessage]).toEqual(['COMPLETED', null]);
    expect(['COMPLETED', 'VERIFIED']).toContain(bk.status);
    const safety = (await api(t, 'GET', `/api/v1/backups/${run.safetyBackupId}`)).body;
    expect(safety).toMatchObject({ target: 'app', triggeredBy: `restore:${run.id}` });
    // The restore (with its safety backup) and B's backup never ran at the same time.
    const [rs, re, bs, be] = [run.startedAt, run.completedAt, bk.startedAt, bk.completedAt].map((d) => Date.parse(d));
    expect(re <= bs || be <= rs).toBe(true);
    // Once A's restore has ended, B's is accepted.
    const bRestore = await restore(backups.app2.id, { safetyBackup: false });
    expect(bRestore.status).toBe(202);
    expect((await waitRestore(bRestore.body.id)).status).toBe('COMPLETED');
  });

  it(`${RACERS} simultaneous identical restore requests: one 202 and 409s naming it, round after round; exactly one runs`, async () => {
    // Many rounds on one database: on a MySQL/MariaDB catalog, InnoDB made about 1 in 20 of the
    // losing inserts a deadlock victim once the previous run had let the database go (a 500).
    const rounds: Array<[string, Array<{ id: string }>]> = [
      ...Array.from({ length: 8 }, (_, i): [string, Array<{ id: string }>] => [`app, round ${i + 1}`, [backups.app]]),
      ['app and app2 at once', [backups.app, backups.app2]],
    ];
    for (const [label, sources] of rounds) {
      const before = await Promise.all(sources.map((s) => runsOf(s.id)));
      const rs = await Promise.all(Array.from({ length: RACERS }, (_, i) => restore(sources[i % sources.length].id, { safetyBackup: false })));
      const accepted = rs.filter((r) => r.status === 202);
      expect([label, accepted.length]).toEqual([label, 1]);
      const winner = accepted[0].body.id;
      for (const r of rs.filter((x) => x.status !== 202)) {
        expect(r.status).toBe(409);
        expect(r.body.message).toContain(winner);
      }
      const after = await Promise.all(sources.map((s) => runsOf(s.id)));
      expect(after.flat().length - before.flat().length).toBe(1);
      expect((await waitRestore(winner)).status).toBe('COMPLETED');
    }
  });

  it('a run left QUEUED by a lost job, or ended without freeing its database, stops blocking that database once reconciled', async () => {
    const runs = t.app.get<Repository<RestoreRun>>(getRepositoryToken(RestoreRun, CATALOG_CONNECTION), { strict: false });
    const longAgo = new Date(Date.now() - 3600_000);
    const stuck = (status: RestoreStatus) => ({
      id: randomUUID(), backupId: backups.app.id, target: 'app', engine: 'postgres', database: spare, intoOtherDatabase: true,
      status, activeKey: pgKey(spare), requestedBy: 'test', createdAt: longAgo, updatedAt: longAgo,
    });
    // A QUEUED run whose job never reached the queue, then a FAILED one that kept its key.
    for (const status of [RestoreStatus.Queued, RestoreStatus.Failed]) {
      const row = stuck(status);
      await runs.insert(row);
      const refused = await restore(backups.app.id, { targetDatabase: spare, safetyBackup: false });
      expect(refused.status).toBe(409);
      expect(refused.body.message).toContain(row.id);
      const freed = await waitFor(async () => {
        const r = await runs.findOneByOrFail({ id: row.id });
        return r.activeKey === null ? r : undefined;
      }, 'the reconciler to free the database', 60_000);
      expect(freed.status).toBe('FAILED');
      if (status === RestoreStatus.Queued) expect(freed.errorMessage).toMatch(/gone from the queue/);
    }
    const accepted = await restore(backups.app.id, { targetDatabase: spare, safetyBackup: false });
    expect(accepted.status).toBe(202);
    expect((await waitRestore(accepted.body.id)).status).toBe('COMPLETED');
  });

  it('checks the allowed databases of a target at start-up, from the environment and from forRoot', async () => {
    const env = testEnv({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${shared}`, BACKUP_TARGET_APP_RESTORE_DATABASES: 'ok_db,template1,bm_rs_1,bad-name' });
    let err: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.filter((p) => p.startsWith('BACKUP_TARGET_APP_RESTORE_DATABASES'));
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/template1.*system database/);
    expect(problems.join('\n')).toMatch(/bm_rs_1.*scratch/);
    expect(problems.join('\n')).toMatch(/bad-name.*letters, digits/);
    await expect(
      resolveModuleOptions(
        { targets: [{ name: 'app', engine: 'mysql', host: 'h', port: 3306, user: 'u', database: 'app', restoreDatabases: ['mysql'] }] },
        { controllers: false },
      ),
    ).rejects.toThrow(/targets\[0\]\.restoreDatabases "mysql" is a system database/);
  });
});
