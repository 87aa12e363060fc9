import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { api, waitForBackup } from './support/api.js';
import { startTestApp, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

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
});
