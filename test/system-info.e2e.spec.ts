import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { api, waitForBackup } from './support/api.js';
import { startTestApp, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

const SECRET = 'SysInfo-Secret-42';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

describe('system info', () => {
  let t: TestApp;
  let db: string;
  let backup: any;

  beforeAll(async () => {
    db = await createPgDatabase('sysinfo');
    await pgQuery(db, `
      CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a SELECT g, md5(g::text) FROM generate_series(1, 1000) g;
      CREATE TABLE b (id int PRIMARY KEY); INSERT INTO b SELECT generate_series(1, 250);
      CREATE SCHEMA s; CREATE TABLE s.c (id int); INSERT INTO s.c SELECT generate_series(1, 50);
      ANALYZE;`);
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      BACKUP_TARGET_GHOST_URL: `postgres://nobody_here:${SECRET}@127.0.0.1:5432/no_such_db_bm`,
    });
    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    backup = await waitForBackup(t, created.body.id);
    await new Promise((r) => setTimeout(r, 1000)); // a follow-up verification, if any, settles
  });

  afterAll(async () => {
    await t?.close();
    await dropPgDatabase(db);
  });

  it('shows version, uptime, process and dump client versions', async () => {
    const r = await api(t, 'GET', '/api/v1/system/info', { token: t.token('viewer') });
    expect(r.status).toBe(200);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(r.body.version).toBe(pkg.version);
    expect(r.body.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(r.body.process).toMatchObject({ pid: process.pid, nodeVersion: process.version });
    expect(r.body.process.loadAverage).toHaveLength(3);
    expect(r.body.process.memory.rss).toBeGreaterThan(0);
    expect(r.body.clients.postgres).toMatch(/^pg_dump \(PostgreSQL\) \d+/);
    expect(Object.keys(r.body.clients)).toEqual(expect.arrayContaining(['postgres']));
  });

  it('shows per-target database statistics and the last backup', async () => {
    const r = await api(t, 'GET', '/api/v1/system/info');
    const app = r.body.targets.find((x: any) => x.name === 'app');
    const [size] = await pgQuery<{ n: string }>(db, 'SELECT pg_database_size(current_database())::text AS n');
    expect(app).toMatchObject({ engine: 'postgres', database: db, tableCount: 3, rowEstimate: 1300 });
    expect(Math.abs(app.sizeBytes - Number(size.n))).toBeLessThan(1024 * 1024);
    const latest = (await api(t, 'GET', `/api/v1/backups/${backup.id}`)).body;
    expect(app.lastBackup).toMatchObject({ id: backup.id, status: latest.status, sizeBytes: backup.sizeBytes });
    expect(app.lastSuccessfulBackup.id).toBe(backup.id);

    const ghost = r.body.targets.find((x: any) => x.name === 'ghost');
    expect(ghost).toMatchObject({ sizeBytes: null, tableCount: null, lastBackup: null });
    expect(ghost.error).toMatch(/nobody_here|no_such_db_bm/);
    expect(r.text).not.toContain(SECRET);
  });

  it('shows storage usage that matches the files on disk, and the queue with its live worker', async () => {
    const r = await api(t, 'GET', '/api/v1/system/info');
    const onDisk = filesUnder(t.config.options.storageDir).reduce((n, f) => n + statSync(f).size, 0);
    expect(r.body.storage.usedBytes).toBe(onDisk);
    expect(r.body.storage.usedBytes).toBeGreaterThanOrEqual(backup.sizeBytes);
    expect(r.body.storage.freeBytes).toBeGreaterThan(0);
    expect(r.body.storage.totalBytes).toBeGreaterThanOrEqual(r.body.storage.freeBytes);
    expect(r.body.queue.prefix).toBe(t.config.options.queuePrefix);
    expect(r.body.queue.workers).toBe(1);
    expect(r.body.queue.counts).toMatchObject({ active: 0, waiting: 0 });
    expect(r.body.queue.counts.completed).toBeGreaterThanOrEqual(1);
  });

  it('needs a token', async () => {
    expect((await api(t, 'GET', '/api/v1/system/info', { token: null })).status).toBe(401);
  });
});
