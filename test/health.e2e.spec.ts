import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { api, waitForBackup } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

const sqliteTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A private redis-server for this file, so stopping it never touches the shared one. */
class PrivateRedis {
  private proc?: ChildProcess;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) return;
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor(async () => {
      const r = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => undefined);
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    }, 'private redis-server', 10_000, 100);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  }
}

describe('health checks', () => {
  let t: TestApp;
  let db: string;
  let redis: PrivateRedis;

  beforeAll(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    db = await createPgDatabase('health');
    await pgQuery(db, 'CREATE TABLE t (id int PRIMARY KEY)');
    t = await startTestApp({
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      BACKUP_TARGET_OTHER_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      BACKUP_TARGET_OTHER_MAX_AGE_HOURS: '0',
      HEALTH_MIN_FREE_MB: '1',
      HEALTH_CHECK_TIMEOUT_MS: '1500',
    });
  });

  afterAll(async () => {
    await redis?.start().catch(() => undefined);
    await t?.close();
    await redis?.stop();
    if (db) await dropPgDatabase(db);
  });

  it('answers /health/live and /health/ready without a token, outside the api prefix', async () => {
    const live = await api(t, 'GET', '/health/live', { token: null });
    expect(live.status).toBe(200);
    expect(live.body.status).toBe('ok');
    const ready = await api(t, 'GET', '/health/ready', { token: null });
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ok');
    expect(Object.keys(ready.body.details).sort()).toEqual(['catalog', 'disk', 'redis', 'storage']);
    expect(ready.body.details.disk.freeBytes).toBeGreaterThan(1024 * 1024);
    expect((await api(t, 'GET', '/api/v1/health/ready', { token: null })).status).toBe(404);
  });

  it('reports a target without a recent good backup as unhealthy, with the reason, until one is made', async () => {
    expect((await api(t, 'GET', '/api/v1/system/health', { token: null })).status).toBe(401);
    const before = await api(t, 'GET', '/api/v1/system/health', { token: t.token('viewer') });
    expect(before.status).toBe(503);
    expect(before.body.status).toBe('error');
    expect(before.body.error['freshness:app'].message).toBe('no successful backup of "app" that holds its data (full scope, schema and data) yet');
    expect(before.body.details['freshness:other']).toBeUndefined(); // max age 0: not checked

    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    const done = await waitForBackup(t, created.body.id);
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    const fresh = await api(t, 'GET', '/api/v1/system/health', { token: t.token('viewer') });
    expect(fresh.status).toBe(200);
    expect(fresh.body.details['freshness:app']).toMatchObject({ status: 'up', backupId: done.id, maxAgeHours: 24 });

    // The newest good backup is now two days old.
    await new Promise((r) => setTimeout(r, 1000)); // let a follow-up verification settle
    const catalog = new Database(t.config.options.catalog.sqlitePath);
    try {
      catalog.prepare('UPDATE bm_backup_records SET completedAt = ?, createdAt = ? WHERE target = ?').run(sqliteTime(new Date(Date.now() - 48 * 3600_000)), sqliteTime(new Date(Date.now() - 49 * 3600_000)), 'app');
    } finally {
      catalog.close();
    }
    const stale = await api(t, 'GET', '/api/v1/system/health', { token: t.token('viewer') });
    expect(stale.status).toBe(503);
    expect(stale.body.error['freshness:app'].message).toMatch(/^newest good backup of "app" is 4[89](\.\d+)? h old; at most 24 h allowed$/);
    expect(stale.body.info.redis.status).toBe('up');
    expect((await api(t, 'GET', '/health/ready', { token: null })).status).toBe(200); // freshness is not readiness

    const again = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    await waitForBackup(t, again.body.id);
    const healthy = await api(t, 'GET', '/api/v1/system/health', { token: t.token('viewer') });
    expect(healthy.status).toBe(200);
    expect(healthy.body.details['freshness:app'].backupId).toBe(again.body.id);
  });

  it('turns unready when its Redis goes away, and ready again when it is back', async () => {
    await redis.stop();
    const down = await waitFor(async () => {
      const r = await api(t, 'GET', '/health/ready', { token: null });
      return r.status === 503 ? r : undefined;
    }, 'readiness to fail', 15_000);
    expect(down.body.status).toBe('error');
    expect(down.body.error.redis.status).toBe('down');
    expect(down.body.info.catalog.status).toBe('up');
    expect((await api(t, 'GET', '/health/live', { token: null })).status).toBe(200);

    await redis.start();
    const up = await waitFor(async () => {
      const r = await api(t, 'GET', '/health/ready', { token: null });
      return r.status === 200 ? r : undefined;
    }, 'readiness to recover', 20_000);
    expect(up.body.details.redis.status).toBe('up');
  });
});

describe('health checks: free space', () => {
  it('is unready when the storage filesystem has less free space than the threshold', async () => {
    const t = await startTestApp({ HEALTH_MIN_FREE_MB: String(1024 * 1024 * 1024) });
    try {
      const r = await api(t, 'GET', '/health/ready', { token: null });
      expect(r.status).toBe(503);
      expect(r.body.error.disk.message).toMatch(/^only \d+ MiB free on the storage filesystem; at least 1073741824 MiB required$/);
      expect(r.body.info.redis.status).toBe('up');
    } finally {
      await t.close();
    }
  });
});
