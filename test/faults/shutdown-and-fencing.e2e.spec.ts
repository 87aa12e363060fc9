// @serial fault suite: kills, freezes and restarts processes and servers, and counts every dump client on the machine
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dropQueueKeys, testEnv } from '../support/app.js';
import { createPgDatabase, dropPgDatabase, pgClient, pgQuery } from '../support/pg.js';
import { childPids, commandOf, freePort, startProcess, waitForHttp, type Proc } from '../support/processes.js';
import { checkInvariants, client, orphanClients, sleep, type Client } from './support/faults.js';

const PG_DUMP = /(^|\/)pg_dump\b/;

async function waitForDump(workers: Proc[], timeoutMs = 60_000): Promise<Proc> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const w = workers.find((p) => p.child.exitCode === null && childPids(p.child.pid!).some((c) => PG_DUMP.test(commandOf(c))));
    if (w) return w;
    if (Date.now() > deadline) throw new Error(`no worker ran pg_dump: ${workers.map((p) => p.output().slice(-1500)).join('\n---\n')}`);
    await sleep(10);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

let thaw = (): void => undefined;

/** Real worker processes: a graceful SIGTERM, and a worker frozen past its job lock (fencing). */
describe('worker shutdown and lost job locks', () => {
  let db: string;
  let env: Record<string, string>;
  let c: Client;
  const procs: Proc[] = [];
  const start = (entry: 'main' | 'worker', extra: Record<string, string> = {}) => {
    const p = startProcess(entry, { ...env, ...extra });
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    db = await createPgDatabase('shutdown');
    // ~120 MB of dump text: a few seconds of dump.
    await pgQuery(db, `CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat(md5(g::text), 16) FROM generate_series(1, 220000) g;
                       CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10);`);
    const port = await freePort();
    const url = `postgres://postgres@127.0.0.1:5432/${db}`;
    env = testEnv({
      PORT: String(port),
      BACKUP_TARGET_BIG_URL: url,
      BACKUP_TARGET_OTHER_URL: url,
      BACKUP_TARGET_FENCED_URL: url,
      JOB_LOCK_DURATION_MS: '3000',
      JOB_STALLED_INTERVAL_MS: '1000',
      LOG_LEVEL: 'warn',
    });
    c = client(`http://127.0.0.1:${port}`, env.JWT_SECRET);
    start('main', { APP_ROLE: 'api' });
    await waitForHttp(`http://127.0.0.1:${port}/health/live`);
  }, 180_000);

  afterAll(async () => {
    thaw();
    for (const p of procs) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
    await Promise.all(procs.map((p) => p.exited));
    await dropQueueKeys(env.QUEUE_PREFIX);
    await dropPgDatabase(db);
  });

  it('SIGTERM with a long grace period: takes no new job, finishes the running one, then exits', async () => {
    const w = start('worker', { SHUTDOWN_GRACE_MS: '120000', WORKER_CONCURRENCY: '2' });
    await sleep(1500);
    const first = (await c.call('POST', '/api/v1/backups', { target: 'big' })).body.id;
    expect(await waitForDump([w])).toBe(w);
    await sleep(200);
    w.child.kill('SIGTERM');
    await sleep(300);
    // A free slot (concurrency 2) and a waiting job: a closing worker must leave it alone.
    const second = (await c.call('POST', '/api/v1/backups', { target: 'other' })).body.id;
    const code = await w.exited;
    expect(code === 0 || w.child.signalCode === 'SIGTERM').toBe(true);
    const a = await c.get(first);
    expect(a.status).toBe('COMPLETED');
    expect(a.attempts).toBe(1);
    const b = await c.get(second);
    expect(b.status).toBe('QUEUED');
    expect(b.attempts).toBe(0);
    expect(orphanClients(`PGDATABASE=${db}`)).toEqual([]);

    start('worker');
    const b2 = await c.waitUntil(second, (x) => x.status === 'VERIFIED', 'VERIFIED', 120_000);
    expect(b2.attempts).toBe(1);
    await c.waitUntil(first, (x) => x.status === 'VERIFIED', 'VERIFIED', 120_000);
    await checkInvariants(c, env, 'big');
    await checkInvariants(c, env, 'other');
  }, 300_000);

  it('a worker frozen past its job lock cannot commit a second artifact: exactly one, and the worker works on', async () => {
    for (const p of procs.slice(1)) p.child.kill('SIGKILL');
    const a = start('worker');
    const b = start('worker');
    await sleep(1500);
    // The test holds the table until the worker is frozen, so the dump cannot end (and commit)
    // between being seen and being frozen, however slow the machine (seen once at load 14).
    const holder = pgClient(db);
    await holder.connect();
    await holder.query('BEGIN; LOCK TABLE big IN ACCESS EXCLUSIVE MODE');
    const id = (await c.call('POST', '/api/v1/backups', { target: 'fenced' })).body.id;
    const frozen = await waitForDump([a, b]);
    const other = frozen === a ? b : a;
    // Freeze the worker with its dump clients, as a paused machine would be: a dump left running
    // could otherwise end and commit before the lock expires, and there would be nothing to fence.
    const family = [frozen.child.pid!, ...childPids(frozen.child.pid!)];
    thaw = () => family.forEach((pid) => signal(pid, 'SIGCONT'));
    family.forEach((pid) => signal(pid, 'SIGSTOP'));
    await holder.query('COMMIT');
    await holder.end();
    // The other worker finds the job stalled, takes it over (attempt 2) and completes it.
    const done = await c.waitUntil(id, (x) => ['COMPLETED', 'VERIFIED'].includes(x.status), 'completion by the other worker', 120_000);
    expect(done.attempts).toBe(2);
    thaw();
    // The thawed worker resumes its stale attempt: it must notice and publish nothing.
    await sleep(6000);
    const after = await c.waitUntil(id, (x) => x.status === 'VERIFIED', 'VERIFIED', 60_000);
    expect(after.attempts).toBe(2);
    expect(after.fileKey).toBe(done.fileKey);
    const { ok } = await checkInvariants(c, env, 'fenced');
    expect(ok.map((r) => r.id)).toEqual([id]);
    expect(frozen.child.exitCode).toBeNull();

    // The thawed worker keeps working: with the other one gone, it runs the next backup.
    other.child.kill('SIGKILL');
    await other.exited;
    const next = await c.waitUntil((await c.call('POST', '/api/v1/backups', { target: 'fenced' })).body.id, (x) => x.status === 'VERIFIED', 'VERIFIED', 120_000);
    expect(next.attempts).toBe(1);
    await checkInvariants(c, env, 'fenced');
    expect(orphanClients(`PGDATABASE=${db}`)).toEqual([]);
  }, 300_000);
});
