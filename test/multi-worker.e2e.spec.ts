import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signToken } from '../src/auth/token-verifier.js';
import { Role } from '../src/auth/roles.js';
import { dropQueueKeys, testEnv } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { childPids, childrenRunning, commandOf, exeNameOf, freePort, pollFor, startProcess, waitForHttp, type Proc } from './support/processes.js';

/** One API process and two worker processes sharing one Redis queue, one SQLite catalog and one storage dir. */
/** A /proc file's text, or undefined once the process is gone. */
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

describe('horizontally scaled workers', () => {
  let env: Record<string, string>;
  let small: string;
  let large: string;
  let apiProc: Proc;
  let workers: Proc[] = [];
  let base: string;
  let token: string;

  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, body: (await r.json()) as any };
  };
  const waitDone = async (id: string, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await call('GET', `/api/v1/backups/${id}`);
      if (!['QUEUED', 'RUNNING'].includes(r.body.status)) return r.body;
      if (Date.now() > deadline) throw new Error(`backup ${id} stuck in ${r.body.status}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  };

  beforeAll(async () => {
    small = await createPgDatabase('mw_small');
    await pgQuery(small, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g;`);
    large = await createPgDatabase('mw_large');
    // ~470 MB of dump text so that a dump is still running when a worker is killed.
    await pgQuery(large, `CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat(md5(g::text), 16) FROM generate_series(1, 900000) g;`);
    const port = await freePort();
    env = testEnv({
      PORT: String(port),
      BACKUP_TARGET_SMALL_URL: `postgres://postgres@127.0.0.1:5432/${small}`,
      BACKUP_TARGET_LARGE_URL: `postgres://postgres@127.0.0.1:5432/${large}`,
      LOG_LEVEL: 'warn',
    });
    base = `http://127.0.0.1:${port}`;
    token = signToken(env.JWT_SECRET, { sub: 'ops', role: Role.Operator }, { expiresIn: '1h' });
    apiProc = startProcess('main', { ...env, APP_ROLE: 'api' });
    await waitForHttp(`${base}/health/live`);
    workers = [startProcess('worker', env), startProcess('worker', env)];
    await new Promise((r) => setTimeout(r, 1500));
  }, 180_000);

  afterAll(async () => {
    for (const p of [apiProc, ...workers]) p?.child.kill('SIGKILL');
    await dropQueueKeys(env.QUEUE_PREFIX);
    await dropPgDatabase(small);
    await dropPgDatabase(large);
  });

  it('runs ten backups, each exactly once', async () => {
    const ids: string[] = [];
    // Ten different backups: an identical request while one is still QUEUED would return that one.
    const specs = ['manual', 'daily', 'weekly', 'monthly'].flatMap((type) => ['plain', 'custom'].flatMap((format) => [{ type, format }, { type, format, scope: 'selective', tables: ['t'] }]));
    for (const spec of specs.slice(0, 10)) {
      const r = await call('POST', '/api/v1/backups', { target: 'small', ...spec });
      expect(r.status).toBe(202);
      ids.push(r.body.id);
    }
    const done = await Promise.all(ids.map((id) => waitDone(id)));
    expect(done.every((d) => ['COMPLETED', 'VERIFIED'].includes(d.status))).toBe(true);
    expect(done.map((d) => d.attempts)).toEqual(Array(10).fill(1));
    const files = readdirSync(join(env.DATA_DIR, 'backups', 'small')).filter((f) => /\.(sql|dump)\.zst$/.test(f));
    expect(files.sort()).toEqual(done.map((d) => d.fileKey.split('/')[1]).sort());
  }, 180_000);

  it('finishes a dump on the other worker when one is SIGKILLed mid-dump, leaving no partial file or pg_dump behind', async () => {
    const r = await call('POST', '/api/v1/backups', { target: 'large' });
    expect(r.status).toBe(202);
    // Find the worker whose child is pg_dump, and kill it while the dump streams.
    let victim: Proc | undefined;
    const deadline = Date.now() + 60_000;
    while (!victim && Date.now() < deadline) {
      victim = workers.find((w) => childrenRunning(w.child.pid!, 'pg_dump').length > 0);
      if (!victim) await new Promise((res) => setTimeout(res, 10));
    }
    if (!victim) {
      const rec = await call('GET', `/api/v1/backups/${r.body.id}`);
      throw new Error(`no worker was running pg_dump; record ${JSON.stringify(rec.body)}; worker logs: ${workers.map((w) => w.output()).join('\n---\n').slice(-3000)}`);
    }
    // Both clients exec'd (told by their executables, not a command line a fork still shares), and data flowing.
    await pollFor(() => childrenRunning(victim!.child.pid!, 'zstd').length > 0, 'zstd beside pg_dump', 10_000);
    await new Promise((res) => setTimeout(res, 200));
    const kids = childPids(victim!.child.pid!);
    expect(kids.map(exeNameOf)).toEqual(expect.arrayContaining(['pg_dump', 'zstd']));
    victim!.child.kill('SIGKILL');
    await victim!.exited;
    // Its pg_dump and zstd die with it (the kernel's parent-death signal), not seconds later when
    // the dump would have ended: neither writes to the worker, so no broken pipe stops them.
    const alive = () => kids.filter((k) => !/^\S+ \(.*\) Z/.test(readProc(`/proc/${k}/stat`) ?? '0 (gone) Z')).map((k) => `${k} ${commandOf(k)}`);
    const stop = Date.now() + 1000;
    while (alive().length && Date.now() < stop) await new Promise((res) => setTimeout(res, 20));
    expect(alive()).toEqual([]);

    const done = await waitDone(r.body.id, 150_000);
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    expect(done.attempts).toBe(2);
    const dir = join(env.DATA_DIR, 'backups', 'large');
    const entries = readdirSync(dir);
    expect(entries.filter((f) => f.endsWith('.partial'))).toEqual([]);
    expect(entries.filter((f) => /\.(sql|dump)\.zst$/.test(f))).toEqual([done.fileKey.split('/')[1]]);
    // The killed worker's pg_dump saw its pipe close and exited: no session of ours remains.
    const sessions = await pgQuery(large, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'backup-manager'`, [large]);
    expect(sessions[0].n).toBe(0);
  }, 240_000);
});
