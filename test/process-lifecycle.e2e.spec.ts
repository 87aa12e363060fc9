import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { signToken } from '../src/auth/token-verifier.js';
import { Role } from '../src/auth/roles.js';
import { dropQueueKeys, testEnv, waitFor } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { childrenRunning, freePort, startProcess, waitForHttp, type Proc } from './support/processes.js';

describe('process start-up and shutdown', () => {
  it('exits with 78 and names every bad value when the configuration is invalid', async () => {
    const p = startProcess('main', { DATA_DIR: '/tmp/bm-never-used', PORT: 'x', BACKUP_TARGET_A_URL: 'ftp://h/db' });
    expect(await p.exited).toBe(78);
    expect(p.output()).toContain('JWT_SECRET (or JWT_SECRET_FILE) is required');
    expect(p.output()).toContain('PORT must be an integer');
    expect(p.output()).toContain('BACKUP_TARGET_A_URL must use postgres:// or mysql://');
  });

  describe('start-up and shutdown logs', () => {
    const lines = (p: Proc) =>
      p
        .output()
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          try {
            return JSON.parse(l) as { level: number; msg: string; context?: string };
          } catch {
            return { level: 0, msg: l };
          }
        });

    it('a port in use stops start-up at once with one line and exit code 78, and no success line', async () => {
      const port = await freePort();
      const holder: Server = createServer();
      await new Promise<void>((r) => holder.listen(port, '0.0.0.0', () => r()));
      const env = testEnv({ PORT: String(port), LOG_LEVEL: 'info' });
      try {
        const p = startProcess('main', env);
        expect(await p.exited).toBe(78);
        expect(p.output().trim().split('\n')).toEqual([
          `backup-manager: port ${port} on 0.0.0.0 is already in use: stop the process holding it, or set PORT to a free port`,
        ]);
      } finally {
        holder.close();
        await dropQueueKeys(env.QUEUE_PREFIX);
        rmSync(env.DATA_DIR, { recursive: true, force: true });
      }
    });

    it('says which port it listens on once bound, and logs the signal, the draining and the end of a shutdown', async () => {
      const port = await freePort();
      const env = testEnv({ PORT: String(port), LOG_LEVEL: 'info' });
      const p = startProcess('main', env);
      try {
        await waitForHttp(`http://127.0.0.1:${port}/health/live`);
        // The line comes right after the port is bound; wait for it rather than assume it is flushed.
        for (const end = Date.now() + 10_000; !lines(p).some((l) => /^listening on/.test(l.msg)) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
        const msgs = lines(p).map((l) => l.msg);
        expect(msgs).toContain(`listening on http://0.0.0.0:${port} (role all: HTTP API, workers, no scheduler)`);
        expect(msgs).not.toContain('Nest application successfully started');
        p.child.kill('SIGTERM');
        expect(await p.exited).toBe(0);
        const after = lines(p).map((l) => l.msg);
        const order = ['received SIGTERM: shutting down the service', 'stopping: no new jobs; none running'].map((m) => after.indexOf(m));
        expect(order.every((i) => i >= 0)).toBe(true);
        expect(order[1]).toBeGreaterThan(order[0]);
        expect(after.at(-1)).toMatch(/^shut down after SIGTERM in \d+ ms$/);
      } finally {
        p.child.kill('SIGKILL');
        await dropQueueKeys(env.QUEUE_PREFIX);
        rmSync(env.DATA_DIR, { recursive: true, force: true });
      }
    }, 60_000);
  });

  it('a worker keeps HEALTH_FILE fresh while its readiness checks pass, and keeps none while they fail', async () => {
    const good = testEnv({ LOG_LEVEL: 'info' });
    const bad = testEnv({ LOG_LEVEL: 'info', HEALTH_MIN_FREE_MB: '1000000000' }); // more free space than any disk has
    const goodFile = join(good.DATA_DIR, 'worker.health');
    const badFile = join(bad.DATA_DIR, 'worker.health');
    const workers = [startProcess('worker', { ...good, HEALTH_FILE: goodFile }), startProcess('worker', { ...bad, HEALTH_FILE: badFile })];
    try {
      const written = await waitFor(async () => existsSync(goodFile) && readFileSync(goodFile, 'utf8'), 'the health file', 30_000, 50);
      expect(Math.abs(Date.now() - Date.parse(written.trim()))).toBeLessThan(30_000);
      expect(statSync(goodFile).mode & 0o777).toBe(0o600);
      await waitFor(async () => workers[1].output().includes(`health checks fail; removed ${badFile}`), 'the failing worker to say so', 30_000, 50);
      expect(workers[1].output()).toMatch(/free/i);
      expect(existsSync(badFile)).toBe(false);
    } finally {
      for (const w of workers) w.child.kill('SIGKILL');
      for (const e of [good, bad]) {
        await dropQueueKeys(e.QUEUE_PREFIX);
        rmSync(e.DATA_DIR, { recursive: true, force: true });
      }
    }
  }, 60_000);

  describe('SIGTERM during a dump', () => {
    let env: Record<string, string>;
    let db: string;
    let apiProc: Proc;
    const procs: Proc[] = [];
    let base: string;
    let token: string;
    const get = async (id: string) =>
      (await (await fetch(`${base}/api/v1/backups/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as any;

    beforeAll(async () => {
      db = await createPgDatabase('sigterm');
      await pgQuery(db, `CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat(md5(g::text), 16) FROM generate_series(1, 900000) g;`);
      const port = await freePort();
      env = testEnv({ PORT: String(port), BACKUP_TARGET_BIG_URL: `postgres://postgres@127.0.0.1:5432/${db}`, SHUTDOWN_GRACE_MS: '0', LOG_LEVEL: 'warn' });
      base = `http://127.0.0.1:${port}`;
      token = signToken(env.JWT_SECRET, { sub: 'ops', role: Role.Operator }, { expiresIn: '1h' });
      apiProc = startProcess('main', { ...env, APP_ROLE: 'api' });
      procs.push(apiProc);
      await waitForHttp(`${base}/health/live`);
    }, 120_000);

    afterAll(async () => {
      for (const p of procs) p.child.kill('SIGKILL');
      await dropQueueKeys(env.QUEUE_PREFIX);
      await dropPgDatabase(db);
    });

    it('aborts the running dump cleanly, exits, and the job completes on the next worker', async () => {
      const worker = startProcess('worker', { ...env, LOG_LEVEL: 'info' });
      procs.push(worker);
      const created = (await (await fetch(`${base}/api/v1/backups`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ target: 'big' }),
      })).json()) as any;
      const deadline = Date.now() + 60_000;
      while (!childrenRunning(worker.child.pid!, 'pg_dump').length) {
        if (Date.now() > deadline) throw new Error(`the worker never ran pg_dump: ${worker.output()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      worker.child.kill('SIGTERM');
      const code = await worker.exited;
      expect(Date.now() - t0).toBeLessThan(15_000);
      // A clean shutdown exits 0: never a hang or SIGKILL.
      expect(code).toBe(0);
      const said = worker.output();
      for (const line of ['received SIGTERM: shutting down the worker', 'stopping: no new jobs; draining 1 running job(s) for up to 0 ms', 'aborting 1 running job(s) after the 0 ms grace period']) {
        expect(said).toContain(line);
      }
      expect(said).toMatch(/"msg":"shut down after SIGTERM in \d+ ms"/);

      const after = await get(created.id);
      expect(after.status).toBe('QUEUED');
      expect(after.errorMessage).toMatch(/will retry: .*aborted/);
      const dir = join(env.DATA_DIR, 'backups', 'big');
      expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
      const sessions = await pgQuery(db, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'backup-manager'`, [db]);
      expect(sessions[0].n).toBe(0);

      const next = startProcess('worker', env);
      procs.push(next);
      let done: any;
      for (const end = Date.now() + 120_000; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
        done = await get(created.id);
        if (!['QUEUED', 'RUNNING'].includes(done.status)) break;
      }
      expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
      expect(done.attempts).toBe(2);
      expect(readdirSync(dir).filter((f) => /\.(sql|dump)\.zst$/.test(f))).toEqual([done.fileKey.split('/')[1]]);
    }, 240_000);
  });
});
