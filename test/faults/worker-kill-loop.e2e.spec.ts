// @serial fault suite: kills, freezes and restarts processes and servers, and counts every dump client on the machine
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { dropQueueKeys, testEnv, waitFor } from '../support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from '../support/pg.js';
import { childPids, commandOf, freePort, startProcess, waitForHttp, type Proc } from '../support/processes.js';
import { checkInvariants, client, orphanClients, sleep, type Client } from './support/faults.js';

/** `FAULT_KILL_LOOPS` (default 20): how many workers are SIGKILLed; `npm test` runs fewer. */
const LOOPS = Number(process.env.FAULT_KILL_LOOPS ?? 20);
const TARGETS = ['ka', 'kb'];
const PG_DUMP = /(^|\/)pg_dump\b/;

/**
 * One API process and three workers on one queue; a worker is SIGKILLed at a random point of a
 * dump, again and again, and replaced. The two targets have a database each, so that two dumps
 * can run at once (the lock is per physical database; two names for one database would take
 * turns); a killed worker's lock must expire before its job runs again on that database.
 */
describe(`SIGKILL a worker at a random point of a dump, ${LOOPS} times`, () => {
  let env: Record<string, string>;
  const dbs: string[] = [];
  let api: Proc;
  const workers: Proc[] = [];
  const all: Proc[] = [];
  let c: Client;
  let dumpMs = 1000;

  const spawnWorker = () => {
    const w = startProcess('worker', env);
    workers.push(w);
    all.push(w);
    return w;
  };

  beforeAll(async () => {
    for (const _ of TARGETS) {
      const db = await createPgDatabase('killloop');
      dbs.push(db);
      // ~60 MB of dump text: a dump takes about a second, so kills land all over it.
      await pgQuery(db, `CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 220000) g;
                         CREATE TABLE small (id int PRIMARY KEY, v text); INSERT INTO small SELECT g, md5(g::text) FROM generate_series(1, 500) g;`);
    }
    const port = await freePort();
    // A password in the URL (the server trusts us anyway) makes every dump write a PGPASSFILE:
    // a killed worker must not leave that secret behind either.
    const url = (db: string) => `postgres://postgres:kill-loop-secret@127.0.0.1:5432/${db}`;
    env = testEnv({
      PORT: String(port),
      BACKUP_TARGET_KA_URL: url(dbs[0]),
      BACKUP_TARGET_KB_URL: url(dbs[1]),
      JOB_LOCK_DURATION_MS: '3000',
      JOB_STALLED_INTERVAL_MS: '1000',
      JOB_ATTEMPTS: '3',
      LOG_LEVEL: 'warn',
    });
    c = client(`http://127.0.0.1:${port}`, env.JWT_SECRET);
    api = startProcess('main', { ...env, APP_ROLE: 'api' });
    all.push(api);
    await waitForHttp(`http://127.0.0.1:${port}/health/live`);
    for (let i = 0; i < 3; i++) spawnWorker();
    await sleep(1500);
    // One undisturbed backup per target measures how long a dump takes here.
    const warm = await Promise.all(TARGETS.map(async (t) => c.waitDone((await c.call('POST', '/api/v1/backups', { target: t })).body.id, 60_000))).catch((err: Error) => {
      throw new Error(`${err.message}\nprocess output: ${all.map((p) => `[${p.child.pid} exit ${p.child.exitCode}] ${p.output().slice(-1500)}`).join('\n---\n')}`);
    });
    for (const w of warm) expect(['COMPLETED', 'VERIFIED']).toContain(w.status);
    dumpMs = Math.max(300, Math.max(...warm.map((w) => Number(w.durationMs))));
  }, 240_000);

  afterAll(async () => {
    for (const p of all) p.child.kill('SIGKILL');
    await Promise.all(all.map((p) => p.exited));
    await dropQueueKeys(env.QUEUE_PREFIX);
    for (const db of dbs) await dropPgDatabase(db);
  });

  it('ends every job COMPLETED/VERIFIED or FAILED with a reason; artifacts, records and processes add up', async () => {
    const t0 = Date.now();
    const ids: string[] = [];
    let kills = 0;
    for (let i = 0; i < LOOPS; i++) {
      // Types rotate so that a target's requests differ; should an identical one still be QUEUED
      // (a retry waiting for its back-off), the request returns it (200) instead of queueing another.
      const type = ['manual', 'daily', 'weekly', 'monthly'][Math.floor(i / 2) % 4];
      const r = await c.call('POST', '/api/v1/backups', { target: TARGETS[i % 2], type });
      expect([200, 202]).toContain(r.status);
      if (!ids.includes(r.body.id)) ids.push(r.body.id);
      let victim: Proc | undefined;
      const deadline = Date.now() + 60_000;
      while (!victim && Date.now() < deadline) {
        victim = workers.find((w) => w.child.exitCode === null && childPids(w.child.pid!).some((p) => PG_DUMP.test(commandOf(p))));
        if (!victim) await sleep(10);
      }
      if (!victim) throw new Error(`loop ${i}: no worker ran pg_dump within 60 s: ${workers.map((w) => `[${w.child.pid} exit ${w.child.exitCode}] ${w.output().slice(-1500)}`).join('\n---\n')}`);
      // Anywhere from the first bytes to just past the end of the dump (commit, verification).
      await sleep(Math.floor(Math.random() * dumpMs * 1.3));
      victim.child.kill('SIGKILL');
      await victim.exited;
      kills++;
      workers.splice(workers.indexOf(victim), 1);
      spawnWorker();
    }

    const done = await Promise.all(ids.map((id) => c.waitDone(id, 240_000)));
    // Completed backups are verified by a job of their own, which may itself have been killed.
    for (const d of done.filter((x) => x.status === 'COMPLETED')) await c.waitUntil(d.id, (b) => b.status !== 'COMPLETED', 'verification', 60_000);

    const final = await Promise.all(ids.map((id) => c.get(id)));
    expect(final.filter((b) => ['COMPLETED', 'VERIFIED', 'FAILED'].includes(b.status))).toHaveLength(ids.length);

    // The service keeps working: a fresh backup on each target completes at the first attempt.
    for (const t of TARGETS) {
      const id = (await c.call('POST', '/api/v1/backups', { target: t })).body.id;
      const b = await c.waitUntil(id, (x) => !['QUEUED', 'RUNNING', 'COMPLETED'].includes(x.status), 'the end of backup and verification', 120_000);
      expect(b.status).toBe('VERIFIED');
      expect(b.attempts).toBe(1);
    }
    const results: Record<string, number> = {};
    for (const t of TARGETS) {
      const { ok, failed } = await checkInvariants(c, env, t);
      results[`${t}.ok`] = ok.length;
      results[`${t}.failed`] = failed.length;
      for (const r of ok) expect(r.status).toBe('VERIFIED');
      for (const f of failed) expect(f.errorMessage).toMatch(/died or lost its job lock|gone from the queue|aborted|lock was lost|superseded/i);
    }
    // No pg_dump or zstd outlived its worker, and once the workers are idle no client or session of
    // ours is left on the database. An orphan would stay (reparented to init), so waiting for them
    // to end still catches it.
    // NOTE: on a starved machine a live worker can lose its job lock mid-dump (that attempt runs its
    // dump to the end, then is fenced off), and a killed worker takes a moment to be torn down.
    for (const db of dbs) {
      await waitFor(async () => orphanClients(`PGDATABASE=${db}`).length === 0, `the dump clients of ${db} to end`, 120_000).catch(() => undefined);
      expect(orphanClients(`PGDATABASE=${db}`)).toEqual([]);
      const sessions = await pgQuery(db, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'backup-manager'`, [db]);
      expect(sessions[0].n).toBe(0);
    }

    const attempts = final.map((b) => b.attempts);
     
    console.log(`kill loop: ${kills} kills in ${Math.round((Date.now() - t0) / 1000)} s (dump ~${dumpMs} ms); ${JSON.stringify(results)}; attempts ${JSON.stringify(attempts)}; failures ${JSON.stringify(final.filter((b) => b.status === 'FAILED').map((b) => b.errorMessage))}; storage ${join(env.DATA_DIR, 'backups')}`);
  }, 900_000);
});
