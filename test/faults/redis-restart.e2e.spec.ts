// @serial fault suite: kills, freezes and restarts processes and servers, and counts every dump client on the machine
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv } from '../support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from '../support/pg.js';
import { childPids, commandOf, freePort, startProcess, waitForHttp, type Proc } from '../support/processes.js';
import { checkInvariants, client, orphanClients, sleep, startRedis, type Client, type RedisServer } from './support/faults.js';

const within = (ms: number) => new Promise<string>((r) => setTimeout(() => r('still running'), ms).unref());

/** The service against a test-owned Redis (never the shared one), which is killed and restarted. */
describe('Redis restarted mid-job', () => {
  let db: string;
  let redis: RedisServer;
  const redises: RedisServer[] = [];
  const procs: Proc[] = [];
  let env: Record<string, string>;
  let c: Client;
  let port: number;

  beforeAll(async () => {
    db = await createPgDatabase('redisfault');
    await pgQuery(db, `CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 220000) g;`);
    redis = await startRedis();
    redises.push(redis);
    port = await freePort();
    env = testEnv({ PORT: String(port), REDIS_URL: redis.url, BACKUP_TARGET_BIG_URL: `postgres://postgres@127.0.0.1:5432/${db}`, LOG_LEVEL: 'warn' });
    c = client(`http://127.0.0.1:${port}`, env.JWT_SECRET);
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    for (const r of redises) await r.stop();
    if (db) await dropPgDatabase(db);
  });

  it('reports no backup complete without its artifact, fails the lost one with a reason, and resumes when Redis is back', async () => {
    const svc = startProcess('main', env);
    procs.push(svc);
    await waitForHttp(`http://127.0.0.1:${port}/health/live`);
    const r = await c.call('POST', '/api/v1/backups', { target: 'big' });
    expect(r.status).toBe(202);
    const deadline = Date.now() + 60_000;
    let dump: number | undefined;
    while (!(dump = childPids(svc.child.pid!).find((p) => /(^|\/)pg_dump\b/.test(commandOf(p))))) {
      if (Date.now() > deadline) throw new Error(`no pg_dump: ${svc.output()}`);
      await sleep(10);
    }
    // The dump is held where it is (SIGSTOP) while Redis goes and comes back: Redis dies in the
    // middle of the job however fast this machine dumps (a quiet one finished it in 300 ms).
    process.kill(dump, 'SIGSTOP');
    // Redis dies without persistence: every job, lock and queue key is gone when it comes back.
    await redis.stop('SIGKILL');
    await sleep(2000);
    redis = await startRedis([], redis.port);
    redises.push(redis);
    process.kill(dump, 'SIGCONT');

    const lost = await c.waitDone(r.body.id, 120_000).catch((err: Error) => {
      writeFileSync(join(env.DATA_DIR, 'service.log'), svc.output());
      throw new Error(`${err.message}\nservice (exit ${svc.child.exitCode}), log in ${join(env.DATA_DIR, 'service.log')}`);
    });
    expect(['FAILED', 'COMPLETED', 'VERIFIED']).toContain(lost.status);
    if (lost.status === 'FAILED') expect(lost.errorMessage).toMatch(/lock|gone from the queue|superseded/i);

    // Work resumes on the restarted Redis, once the service says it is ready again.
    await waitForHttp(`http://127.0.0.1:${port}/health/ready`, 60_000);
    const again = await c.call('POST', '/api/v1/backups', { target: 'big' });
    expect(again.status).toBe(202);
    const ok = await c.waitUntil(again.body.id, (b) => !['QUEUED', 'RUNNING', 'COMPLETED'].includes(b.status), 'backup and verification', 120_000);
    expect(ok.status).toBe('VERIFIED');
    expect(svc.child.exitCode).toBeNull();

    const { ok: listed } = await checkInvariants(c, env, 'big');
    expect(listed.map((b) => b.id)).toContain(ok.id);
    expect(orphanClients(`PGDATABASE=${db}`)).toEqual([]);
     
    console.log(`redis restart: the interrupted backup ended ${lost.status}: ${lost.errorMessage ?? ''}`);
  }, 300_000);

  it('refuses to start on a Redis whose maxmemory-policy evicts keys, and only warns when told to run anyway', async () => {
    const lru = await startRedis(['--maxmemory-policy', 'allkeys-lru']);
    redises.push(lru);
    const p2 = await freePort();
    const e2 = testEnv({ PORT: String(p2), REDIS_URL: lru.url, LOG_LEVEL: 'warn' });
    const refused = startProcess('main', e2);
    procs.push(refused);
    expect(await Promise.race([refused.exited, within(30_000)])).toBe(1);
    expect(refused.output()).toContain('maxmemory-policy is "allkeys-lru"; it must be "noeviction"');

    const worker = startProcess('worker', e2);
    procs.push(worker);
    expect(await Promise.race([worker.exited, within(30_000)])).toBe(1);
    expect(worker.output()).toContain('REDIS_ALLOW_EVICTION=true');

    const allowed = startProcess('main', { ...e2, REDIS_ALLOW_EVICTION: 'true' });
    procs.push(allowed);
    await waitForHttp(`http://127.0.0.1:${p2}/health/live`);
    expect(allowed.output()).toContain('IMPORTANT: Redis maxmemory-policy is');
    expect(allowed.output()).toContain('Running anyway because REDIS_ALLOW_EVICTION=true');
  }, 120_000);
});
