import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { api, waitForBackup } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

const SECRET = 'Audit-S3cr3t-Passw0rd';

describe('audit trail', () => {
  let t: TestApp;
  let db: string;

  /** Events matching `query`, once at least `n` exist; then checks no more arrive. */
  async function events(query: string, n = 1): Promise<any[]> {
    const found = await waitFor(async () => {
      const r = await api(t, 'GET', `/api/v1/audit?limit=500&${query}`);
      return r.status === 200 && r.body.items.length >= n ? r.body.items : undefined;
    }, `audit events ${query}`, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    const again = await api(t, 'GET', `/api/v1/audit?limit=500&${query}`);
    expect(again.body.items).toHaveLength(found.length);
    return again.body.items;
  }

  beforeAll(async () => {
    db = await createPgDatabase('audit');
    await pgQuery(db, 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 100) g');
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      BACKUP_TARGET_GHOST_URL: `postgres://nobody_here:${encodeURIComponent(SECRET)}@127.0.0.1:5432/no_such_db_bm`,
    });
  });

  afterAll(async () => {
    await t?.close();
    await dropPgDatabase(db);
  });

  it('records a backup request, its outcome, a download and a delete exactly once, with the right actor', async () => {
    const res = await fetch(`${t.url}/api/v1/backups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.token('operator', 'alice')}`, 'content-type': 'application/json', 'x-request-id': 'req-audit-1' },
      body: JSON.stringify({ target: 'app', description: 'audited' }),
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-request-id')).toBe('req-audit-1');
    const id = ((await res.json()) as any).id as string;
    expect(['COMPLETED', 'VERIFIED']).toContain((await waitForBackup(t, id)).status);
    await new Promise((r) => setTimeout(r, 1000)); // a follow-up verification, if any, settles
    const verified = (await api(t, 'GET', `/api/v1/backups/${id}`)).body.status === 'VERIFIED';

    const created = await events(`resource=${id}&action=backup.create`);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ actorId: 'alice', actorRole: 'operator', outcome: 'success', resourceType: 'backup', requestId: 'req-audit-1' });
    expect(created[0].clientIp).toMatch(/127\.0\.0\.1/);
    expect(created[0].metadata.record).toMatchObject({ target: 'app', status: 'QUEUED' });

    const completed = await events(`resource=${id}&action=backup.complete`);
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({ actorId: 'alice', outcome: 'success', severity: 'info' });
    expect(completed[0].metadata.record.status).toBe('COMPLETED');
    if (verified) expect(await events(`resource=${id}&action=backup.verify`)).toHaveLength(1);

    const dl = await fetch(`${t.url}/api/v1/backups/${id}/download`, { headers: { authorization: `Bearer ${t.token('viewer', 'victor')}` } });
    expect(dl.status).toBe(200);
    await dl.arrayBuffer();
    const downloads = await events(`resource=${id}&action=backup.download`);
    expect(downloads).toHaveLength(1);
    expect(downloads[0]).toMatchObject({ actorId: 'victor', actorRole: 'viewer', outcome: 'success' });

    expect((await api(t, 'DELETE', `/api/v1/backups/${id}`, { token: t.token('admin', 'root') })).status).toBe(200);
    const deletes = await events(`resource=${id}&action=backup.delete`);
    expect(deletes).toHaveLength(1);
    expect(deletes[0]).toMatchObject({ actorId: 'root', severity: 'warning', outcome: 'success' });

    const all = await events(`resource=${id}`, verified ? 5 : 4);
    expect(all.map((e) => e.action).filter((a) => a !== 'backup.verify').sort()).toEqual(['backup.complete', 'backup.create', 'backup.delete', 'backup.download']);
  });

  it('records a failed job as a failure with severity error, without the target password', async () => {
    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'ghost' }, token: t.token('admin', 'bob') });
    expect(created.status).toBe(202);
    expect((await waitForBackup(t, created.body.id)).status).toBe('FAILED');
    const failed = await events(`resource=${created.body.id}&outcome=failure`);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ action: 'backup.complete', actorId: 'bob', severity: 'error' });
    expect(failed[0].metadata.record.errorMessage).toMatch(/nobody_here|no_such_db_bm/);
  });

  it('audits failed authentication and forbidden calls', async () => {
    expect((await api(t, 'GET', '/api/v1/backups', { token: null })).status).toBe(401);
    expect((await api(t, 'GET', '/api/v1/backups', { token: 'garbage.token.here' })).status).toBe(401);
    const forbidden = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' }, token: t.token('viewer', 'mallory') });
    expect(forbidden.status).toBe(403);

    const failedLogins = await events('action=auth.login_failed', 2);
    expect(failedLogins).toHaveLength(2);
    expect(failedLogins.every((e) => e.actorId === 'anonymous' && e.outcome === 'failure' && e.resource === 'GET /api/v1/backups')).toBe(true);
    expect(failedLogins.map((e) => e.metadata.reason).sort()).toEqual(['invalid token (invalid token)', 'no bearer token']);

    const denied = await events('action=auth.forbidden&actor=mallory');
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({ actorRole: 'viewer', resource: 'POST /api/v1/backups', outcome: 'failure', severity: 'warning' });
    // the refused call produced no backup event
    expect((await api(t, 'GET', '/api/v1/audit?actor=mallory&action=backup.*')).body.total).toBe(0);
  });

  it('filters by action prefix, actor, outcome and time, and paginates', async () => {
    const backups = await api(t, 'GET', '/api/v1/audit?action=backup.*&limit=500');
    expect(backups.body.items.length).toBeGreaterThanOrEqual(5);
    expect(backups.body.items.every((e: any) => e.action.startsWith('backup.'))).toBe(true);

    const byAlice = await api(t, 'GET', '/api/v1/audit?actor=alice');
    expect(byAlice.body.items.map((e: any) => e.action).filter((a: string) => a !== 'backup.verify').sort()).toEqual(['backup.complete', 'backup.create']);

    const p1 = await api(t, 'GET', '/api/v1/audit?limit=2&page=1');
    const p2 = await api(t, 'GET', '/api/v1/audit?limit=2&page=2');
    expect(p1.body.items).toHaveLength(2);
    expect(p1.body.pages).toBe(Math.ceil(p1.body.total / 2));
    expect(p2.body.items[0].id).not.toBe(p1.body.items[0].id);
    expect(new Date(p1.body.items[0].occurredAt) >= new Date(p2.body.items[0].occurredAt)).toBe(true);

    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await api(t, 'GET', `/api/v1/audit?from=${future}`)).body.total).toBe(0);
    expect((await api(t, 'GET', `/api/v1/audit?to=${future}`)).body.total).toBe(p1.body.total);
    expect((await api(t, 'GET', '/api/v1/audit?from=yesterday')).status).toBe(400);
    expect((await api(t, 'GET', '/api/v1/audit?outcome=maybe')).status).toBe(400);
  });

  it('is admin-only and append-only', async () => {
    expect((await api(t, 'GET', '/api/v1/audit', { token: t.token('operator') })).status).toBe(403);
    expect((await api(t, 'DELETE', '/api/v1/audit')).status).toBe(404);
    expect((await api(t, 'PUT', '/api/v1/audit', { body: {} })).status).toBe(404);
    const doc = await api(t, 'GET', '/docs-json', { token: null });
    expect(Object.keys(doc.body.paths['/api/v1/audit'])).toEqual(['get']);
  });

  it('never stores a password or the signing secret anywhere in the table', async () => {
    await events('outcome=failure', 1);
    const catalog = new Database(t.config.options.catalog.sqlitePath, { readonly: true });
    try {
      const rows = catalog.prepare('SELECT * FROM bm_audit_events').all();
      expect(rows.length).toBeGreaterThanOrEqual(9);
      const dump = JSON.stringify(rows);
      expect(dump).not.toContain(SECRET);
      expect(dump).not.toContain(encodeURIComponent(SECRET));
      expect(dump).not.toContain(t.config.options.auth.jwtSecret);
      expect(dump).not.toMatch(/Bearer /);
    } finally {
      catalog.close();
    }
  });
});
