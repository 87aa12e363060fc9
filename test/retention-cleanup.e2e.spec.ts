import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { api, waitForBackup } from './support/api.js';
import { REDIS_URL, startTestApp, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

const sqliteTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

/** Retention through the API: policies, pins, dry run, cleanup of files and records, expiresAt. */
describe('retention cleanup and pins', () => {
  let t: TestApp;
  let db: string;
  const ids: string[] = []; // oldest first
  const DAY = 86_400_000;

  beforeAll(async () => {
    db = await createPgDatabase('retention');
    await pgQuery(db, 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 200) g;');
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      RETENTION_POLICIES: JSON.stringify([{ name: 'keep2', kind: 'per-type', rules: { manual: { maxAgeDays: 30, maxCount: 2 } } }]),
      RETENTION_DEFAULT_POLICY: 'keep2',
    });
    for (let i = 0; i < 5; i++) {
      const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', description: `b${i + 1}` } });
      expect(['COMPLETED', 'VERIFIED']).toContain((await waitForBackup(t, r.body.id)).status);
      ids.push(r.body.id);
    }
  });

  afterAll(async () => {
    await t?.close();
    if (db) await dropPgDatabase(db);
  });

  const get = async (id: string) => (await api(t, 'GET', `/api/v1/backups/${id}`)).body;

  it('lists the policies and the default one', async () => {
    const r = await api(t, 'GET', '/api/v1/retention/policies', { token: t.token('viewer') });
    expect(r.status).toBe(200);
    expect(r.body.defaultPolicy).toBe('keep2');
    expect(r.body.policies.map((p: any) => p.name).sort()).toEqual(['30-days', 'gfs', 'keep2', 'standard']);
    expect(r.body.policies.find((p: any) => p.name === 'gfs')).toMatchObject({ kind: 'tiered', tiers: { keepAllDays: 7, dailyDays: 30 } });
  });

  it('pins a backup: DELETE refuses it until it is unpinned', async () => {
    expect((await api(t, 'POST', `/api/v1/backups/${ids[0]}/pin`, { token: t.token('viewer') })).status).toBe(403);
    const pinned = await api(t, 'POST', `/api/v1/backups/${ids[0]}/pin`, { token: t.token('operator') });
    expect(pinned.status).toBe(200);
    expect(pinned.body).toMatchObject({ id: ids[0], pinned: true, expiresAt: null });
    expect((await api(t, 'DELETE', `/api/v1/backups/${ids[0]}`)).status).toBe(409);
    expect((await api(t, 'POST', '/api/v1/backups/00000000-0000-4000-8000-000000000000/pin')).status).toBe(404);
  });

  it('a dry run deletes nothing; the real cleanup deletes exactly the dry run\'s list, files and manifests included', async () => {
    expect((await api(t, 'POST', '/api/v1/retention/cleanup', { body: { dryRun: true }, token: t.token('operator') })).status).toBe(403);
    expect((await api(t, 'POST', '/api/v1/retention/cleanup', { body: { target: 'nope' } })).status).toBe(404);

    const dry = await api(t, 'POST', '/api/v1/retention/cleanup', { body: { dryRun: true, target: 'app' } });
    expect(dry.status).toBe(200);
    expect(dry.body.dryRun).toBe(true);
    // keep2 keeps the newest 2 (b5, b4); b1 is pinned; b2 and b3 go.
    const listed = dry.body.deleted.map((d: any) => d.id).sort();
    expect(listed).toEqual([ids[1], ids[2]].sort());
    expect(dry.body.deleted[0].reasons[0]).toMatch(/beyond the newest 2 manual backups/);
    const b2 = await get(ids[1]);
    const b3 = await get(ids[2]);
    expect(dry.body.freedBytes).toBe(b2.sizeBytes + b3.sizeBytes);
    for (const b of [b2, b3]) expect(b).toMatchObject({ deletedAt: null, fileExists: true });

    const real = await api(t, 'POST', '/api/v1/retention/cleanup', { body: {} });
    expect(real.status).toBe(200);
    expect(real.body.dryRun).toBe(false);
    expect(real.body.deleted.map((d: any) => d.id).sort()).toEqual(listed);
    expect(real.body.freedBytes).toBe(dry.body.freedBytes);
    expect(real.body.skipped).toEqual([]);
    for (const b of [b2, b3]) {
      const after = await get(b.id);
      expect(after.deletedAt).not.toBeNull();
      expect(after.fileExists).toBe(false);
      expect(existsSync(join(t.config.options.storageDir, `${b.fileKey}.manifest.json`))).toBe(false);
    }
    const list = await api(t, 'GET', '/api/v1/backups?target=app');
    expect(list.body.items.map((b: any) => b.id).sort()).toEqual([ids[0], ids[3], ids[4]].sort());

    // expiresAt follows the policy: 30 days after creation; none for the pinned one.
    for (const id of [ids[3], ids[4]]) {
      const b = await get(id);
      expect(new Date(b.expiresAt).getTime() - new Date(b.createdAt).getTime()).toBe(30 * DAY);
      expect(b.fileExists).toBe(true);
    }
    expect((await get(ids[0])).expiresAt).toBeNull();

    const again = await api(t, 'POST', '/api/v1/retention/cleanup', { body: { dryRun: true } });
    expect(again.body.deleted).toEqual([]);
  });

  it('an unpinned backup falls under the policy again', async () => {
    const r = await api(t, 'POST', `/api/v1/backups/${ids[0]}/unpin`, { token: t.token('operator') });
    expect(r.body.pinned).toBe(false);
    const dry = await api(t, 'POST', '/api/v1/retention/cleanup', { body: { dryRun: true } });
    expect(dry.body.deleted.map((d: any) => d.id)).toEqual([ids[0]]);
  });

  it('a cleanup while another replica\'s cleanup runs is refused with 409 CLEANUP_RUNNING and deletes nothing', async () => {
    // Another process's cleanup holds the lock exactly as the service takes it (same key and value form).
    const redis = new Redis(REDIS_URL);
    const key = `${t.env.QUEUE_PREFIX}:cleanup-lock:retention`;
    try {
      expect(await redis.set(key, 'cron:2026-12-01T03:00:00.000Z|other-replica', 'PX', 60_000, 'NX')).toBe('OK');
      const refused = await api(t, 'POST', '/api/v1/retention/cleanup', { body: {} });
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('CLEANUP_RUNNING');
      expect(refused.body.message).toBe(
        'A retention cleanup is already running (started by cron at 2026-12-01T03:00:00.000Z); ask again when it has ended, or use dryRun to see what it will delete',
      );
      expect(await get(ids[0])).toMatchObject({ deletedAt: null, fileExists: true });
      // A dry run changes nothing, so it still answers.
      const dry = await api(t, 'POST', '/api/v1/retention/cleanup', { body: { dryRun: true } });
      expect(dry.status).toBe(200);
      expect(dry.body.deleted.map((d: any) => d.id)).toEqual([ids[0]]);
      // The other cleanup's lock is left alone.
      expect(await redis.get(key)).toBe('cron:2026-12-01T03:00:00.000Z|other-replica');
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
    // Once it has ended, a cleanup runs, and it leaves no lock behind.
    const real = await api(t, 'POST', '/api/v1/retention/cleanup', { body: {} });
    expect(real.status).toBe(200);
    expect(real.body.deleted.map((d: any) => d.id)).toEqual([ids[0]]);
    const probe = new Redis(REDIS_URL);
    try {
      expect(await probe.exists(key)).toBe(0);
    } finally {
      probe.disconnect();
    }
  });
});

/**
 * Issue 12, item 6: backups that do not hold the data (schema-only, data-only) made after data
 * backups must neither push the data backups out nor count as fresh.
 */
describe('retention and freshness count only backups that hold the data', () => {
  let t: TestApp;
  let db: string;
  const data: string[] = []; // oldest first
  const schemaOnly: string[] = [];
  let dataOnly: string;

  const backup = async (body: Record<string, unknown>) => {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', ...body } });
    expect(r.status).toBe(202);
    const done = await waitForBackup(t, r.body.id);
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    return done.id as string;
  };
  const get = async (id: string) => (await api(t, 'GET', `/api/v1/backups/${id}`)).body;

  beforeAll(async () => {
    db = await createPgDatabase('retention_kinds');
    await pgQuery(db, 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 200) g;');
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      RETENTION_POLICIES: JSON.stringify([{ name: 'keep2', kind: 'per-type', rules: { manual: { maxCount: 2 } } }]),
      RETENTION_DEFAULT_POLICY: 'keep2',
    });
    for (let i = 0; i < 3; i++) data.push(await backup({ description: `data ${i + 1}` }));
    for (let i = 0; i < 3; i++) schemaOnly.push(await backup({ includeData: false, description: `schema ${i + 1}` }));
    dataOnly = await backup({ includeSchema: false, description: 'data only' });
  });

  afterAll(async () => {
    await t?.close();
    if (db) await dropPgDatabase(db);
  });

  it('cleanup keeps the newest data backup and its file; schema-only ones fill their own maxCount', async () => {
    const real = await api(t, 'POST', '/api/v1/retention/cleanup', { body: {} });
    expect(real.status).toBe(200);
    // maxCount 2 per kind: data 3 and 2 stay, schema-only 3 and 2 stay, the data-only one stays.
    expect(real.body.deleted.map((d: any) => d.id).sort()).toEqual([data[0], schemaOnly[0]].sort());
    const newest = await get(data[2]);
    expect(newest).toMatchObject({ deletedAt: null, fileExists: true, scope: 'full', includeSchema: true, includeData: true });
    expect(existsSync(join(t.config.options.storageDir, newest.fileKey))).toBe(true);
    expect(await get(data[1])).toMatchObject({ deletedAt: null, fileExists: true });
    expect(await get(dataOnly)).toMatchObject({ deletedAt: null, fileExists: true });

    const plan = await api(t, 'POST', '/api/v1/retention/cleanup', { body: { dryRun: true } });
    expect(plan.body.deleted).toEqual([]);
  });

  it('health and system info report freshness from the newest data backup only', async () => {
    const health = await api(t, 'GET', '/api/v1/system/health', { token: t.token('viewer') });
    expect(health.body.details['freshness:app']).toMatchObject({ status: 'up', backupId: data[2] });
    const info = await api(t, 'GET', '/api/v1/system/info', { token: t.token('viewer') });
    expect(info.body.targets.find((x: any) => x.name === 'app').lastSuccessfulBackup.id).toBe(data[2]);

    // The data backups are now two days old; the schema-only and data-only ones stay fresh.
    const catalog = new Database(t.config.options.catalog.sqlitePath);
    try {
      catalog
        .prepare('UPDATE bm_backup_records SET completedAt = ?, createdAt = ? WHERE target = ? AND includeSchema = 1 AND includeData = 1')
        .run(sqliteTime(new Date(Date.now() - 48 * 3600_000)), sqliteTime(new Date(Date.now() - 49 * 3600_000)), 'app');
    } finally {
      catalog.close();
    }
    const stale = await api(t, 'GET', '/api/v1/system/health', { token: t.token('viewer') });
    expect(stale.status).toBe(503);
    expect(stale.body.error['freshness:app']).toMatchObject({ status: 'down', backupId: data[2] });
    expect(stale.body.error['freshness:app'].message).toMatch(/^newest good backup of "app" is 4[89](\.\d+)? h old; at most 24 h allowed$/);

    // Still kept however old: it is the newest copy of the data.
    const dry = await api(t, 'POST', '/api/v1/retention/cleanup', { body: { dryRun: true } });
    expect(dry.body.deleted.map((d: any) => d.id)).not.toContain(data[2]);
  });
});
