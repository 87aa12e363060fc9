// @serial fault suite: kills, freezes and restarts processes and servers, and counts every dump client on the machine
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dropQueueKeys, testEnv } from '../support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from '../support/pg.js';
import { childPids, commandOf, freePort, startProcess, waitForHttp, type Proc } from '../support/processes.js';
import { client, orphanClients, sleep, type Client } from './support/faults.js';

/** The client that loads the dump (backups are custom archives by default). */
const CLIENT = /(^|\/)(psql|pg_restore)( |$)/;

async function digest(db: string): Promise<string> {
  const rows = await pgQuery(db, `SELECT count(*)::int AS n, md5(coalesce(string_agg(id || ':' || v, ',' ORDER BY id), '')) AS h FROM big`);
  const small = await pgQuery(db, `SELECT count(*)::int AS n FROM small`);
  return `big=${rows[0].n}/${rows[0].h} small=${small[0].n}`;
}

/**
 * A worker shut down (SIGTERM, grace period over) in the middle of a drill or a restore: the
 * drill says nothing about the backup, which stays VERIFIED and is drilled again by the next
 * worker; the restore ends CANCELLED, saying the database holds its previous contents, which it
 * does, and it is not run again.
 */
describe('SIGTERM during drills and restores', () => {
  let db: string;
  let env: Record<string, string>;
  let c: Client;
  let backupId: string;
  const procs: Proc[] = [];
  const start = (entry: 'main' | 'worker', extra: Record<string, string> = {}) => {
    const p = startProcess(entry, { ...env, ...extra });
    procs.push(p);
    return p;
  };
  const output = () => procs.map((p) => p.output().slice(-2000)).join('\n---\n');
  /**
   * Waits until `w` runs the client that loads the dump (the drill's or the restore's), then holds
   * that client where it is (SIGSTOP): a load still running when the shutdown comes, however fast
   * this machine would have finished it. `stopHolding` SIGTERMs the worker and, once the worker
   * has aborted its job (it says so), lets the client go on (SIGCONT) to meet what it was sent.
   */
  const holdClient = async (w: Proc): Promise<number> => {
    const deadline = Date.now() + 60_000;
    let pid: number | undefined;
    while (!(pid = childPids(w.child.pid!).find((p) => CLIENT.test(commandOf(p))))) {
      if (Date.now() > deadline || w.child.exitCode !== null) throw new Error(`worker ran no restore client\n${output()}`);
      await sleep(10);
    }
    process.kill(pid, 'SIGSTOP');
    return pid;
  };
  const stopHolding = async (w: Proc, held: number) => {
    w.child.kill('SIGTERM');
    const deadline = Date.now() + 30_000;
    while (!/aborting \d+ running job/.test(w.output()) && w.child.exitCode === null && Date.now() < deadline) await sleep(10);
    try {
      process.kill(held, 'SIGCONT');
    } catch {
      // already gone
    }
    await w.exited;
  };
  const stop = async (w: Proc) => {
    w.child.kill('SIGTERM');
    await w.exited;
  };
  const scratchDatabases = async () =>
    (await pgQuery<{ d: string }>('postgres', `SELECT datname AS d FROM pg_database WHERE datname LIKE 'bm\\_drill\\_%'`)).map((r) => r.d);

  beforeAll(async () => {
    db = await createPgDatabase('rshutdown');
    await pgQuery(db, `CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 1500000) g;
                       CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small SELECT generate_series(1, 10);`);
    const port = await freePort();
    env = testEnv({
      PORT: String(port),
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      JOB_LOCK_DURATION_MS: '3000',
      JOB_STALLED_INTERVAL_MS: '1000',
      SHUTDOWN_GRACE_MS: '200',
      LOG_LEVEL: 'warn',
    });
    c = client(`http://127.0.0.1:${port}`, env.JWT_SECRET);
    start('main', { APP_ROLE: 'api' });
    await waitForHttp(`http://127.0.0.1:${port}/health/live`);
    const w = start('worker');
    const id = (await c.call('POST', '/api/v1/backups', { target: 'app' })).body.id;
    const b = await c.waitUntil(id, (x) => x.status === 'VERIFIED' || x.status === 'CORRUPTED' || x.status === 'FAILED', 'verification', 180_000);
    expect(b.status).toBe('VERIFIED');
    backupId = id;
    await stop(w);
  }, 240_000);

  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await dropQueueKeys(env.QUEUE_PREFIX);
    await dropPgDatabase(db);
  });

  it('a drill cut short by a shutdown leaves the backup VERIFIED, and the next worker drills it', async () => {
    const before = await c.get(backupId);
    const scratchBefore = await scratchDatabases();
    const w1 = start('worker');
    const r = await c.call('POST', `/api/v1/backups/${backupId}/verify`, { drill: true });
    expect(r.status).toBe(202);
    await stopHolding(w1, await holdClient(w1));
    const after = await c.get(backupId);
    expect(after.status).toBe('VERIFIED');
    expect(after.errorMessage).toBeNull();
    expect(after.metadata.drill?.at ?? null).toBe(before.metadata.drill?.at ?? null);
    expect(w1.output()).toMatch(/interrupted by the shutdown and queued again/);

    start('worker');
    const drilled = await c.waitUntil(backupId, (x) => !!x.metadata.drill && x.metadata.drill.at !== before.metadata.drill?.at, 'a drill by the next worker', 120_000);
    expect(drilled.status).toBe('VERIFIED');
    expect(drilled.metadata.drill).toMatchObject({ kind: 'drill', ok: true, tables: 2, rows: 1500010 });
    expect((await scratchDatabases()).filter((d) => !scratchBefore.includes(d))).toEqual([]);
    expect(orphanClients(`PGDATABASE=${db}`)).toEqual([]);
  }, 240_000);

  it('a restore cut short by a shutdown ends CANCELLED, naming the state, and the database is as it was', async () => {
    for (const p of procs.slice(1)) p.child.kill('SIGKILL');
    await Promise.all(procs.slice(1).map((p) => p.exited));
    await pgQuery(db, `DELETE FROM big WHERE id > 1000000; DELETE FROM small WHERE id > 5;`);
    const old = await digest(db);
    const w1 = start('worker');
    const r = await c.call('POST', `/api/v1/backups/${backupId}/restore`, { confirm: true, safetyBackup: false });
    expect(r.status).toBe(202);
    await stopHolding(w1, await holdClient(w1));
    const run = (await c.call('GET', `/api/v1/restores/${r.body.id}`)).body;
    expect(run.status).toBe('CANCELLED');
    expect(run.errorMessage).toMatch(/stopped by a worker shutdown before it committed: .* holds its previous contents \(nothing was committed\)\. It will not run again without a new request/);
    expect(await digest(db)).toBe(old);

    // The next worker sees the job again (it stalled) and leaves it alone.
    start('worker');
    await sleep(8000);
    const later = (await c.call('GET', `/api/v1/restores/${r.body.id}`)).body;
    expect(later).toMatchObject({ status: 'CANCELLED', attempts: run.attempts, errorMessage: run.errorMessage });
    expect(await digest(db)).toBe(old);
    const stats = (await c.call('GET', '/api/v1/restores/stats')).body;
    expect(stats.restores.CANCELLED).toBe(1);
    expect((await c.call('GET', '/api/v1/restores?status=CANCELLED')).body.items.map((x: any) => x.id)).toEqual([r.body.id]);
  }, 240_000);
});
