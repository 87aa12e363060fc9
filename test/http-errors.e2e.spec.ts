import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getRepositoryToken } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import type { Repository } from 'typeorm';
import { BackupRecord, BackupStatus, BackupType } from '../src/backup/entities/backup-record.entity.js';
import { CATALOG_CONNECTION } from '../src/catalog/catalog.js';
import { ERROR_CODES, ERROR_STATUS } from '../src/common/error-codes.js';
import { api } from './support/api.js';
import { startTestApp, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

/**
 * Issue 14 item 6 and issue 15 item 8: every error the service answers has one body shape,
 * `{ statusCode, code, error, message }`, with a stable code, including the errors raised before
 * any route runs (unknown route, body too large, not JSON) and the auth refusals.
 */
describe('one error model', () => {
  let t: TestApp;
  let db: string;

  beforeAll(async () => {
    db = await createPgDatabase('errs');
    await pgQuery(db, 'CREATE TABLE customers (id int PRIMARY KEY)');
    t = await startTestApp({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`, HTTP_BODY_LIMIT_KB: '4' });
  });

  afterAll(async () => {
    await t?.close();
    if (db) await dropPgDatabase(db);
  });

  const raw = async (method: string, path: string, init: { body?: string; headers?: Record<string, string>; token?: string | null } = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    const token = init.token === undefined ? t.token('admin') : init.token;
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${t.url}${path}`, { method, headers, body: init.body });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers };
  };

  /** The one shape: exactly these keys, the status repeated, the code's own status. */
  const expectError = (r: { status: number; body: Record<string, unknown> }, status: number, code: string, message?: RegExp) => {
    expect(Object.keys(r.body).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
    expect({ status: r.status, statusCode: r.body.statusCode, code: r.body.code }).toEqual({ status, statusCode: status, code });
    expect(ERROR_STATUS[code as keyof typeof ERROR_STATUS]).toBe(status);
    expect(typeof r.body.error).toBe('string');
    if (message) expect([r.body.message].flat().join('\n')).toMatch(message);
  };

  it('every code has one status, and the codes the issue names exist', () => {
    for (const code of ['TARGET_NOT_FOUND', 'BACKUP_NOT_FOUND', 'RESTORE_IN_PROGRESS', 'QUEUE_FULL', 'VALIDATION_FAILED']) expect(ERROR_CODES).toContain(code);
    for (const code of ERROR_CODES) expect([400, 401, 403, 404, 409, 413, 415, 429, 500, 503]).toContain(ERROR_STATUS[code]);
  });

  it('errors raised before a route runs: unknown route, too large, not JSON, wrong or missing Content-Type', async () => {
    expectError(await raw('GET', '/api/v1/nope'), 404, 'ROUTE_NOT_FOUND', /Cannot GET \/api\/v1\/nope/);
    const big = JSON.stringify({ target: 'app', description: 'x'.repeat(8 * 1024) });
    expectError(await raw('POST', '/api/v1/backups', { body: big, headers: { 'content-type': 'application/json' } }), 413, 'PAYLOAD_TOO_LARGE', /HTTP_BODY_LIMIT_KB/);
    expectError(await raw('POST', '/api/v1/backups', { body: '{"target":', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON', /not valid JSON/);
    // fetch sends a string body as text/plain; curl -d as a form: both were reported as a missing target.
    const plain = await raw('POST', '/api/v1/backups', { body: '{"target":"app"}' });
    expectError(plain, 415, 'UNSUPPORTED_MEDIA_TYPE', /Content-Type: application\/json/);
    const form = await raw('POST', '/api/v1/backups', { body: 'target=app', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectError(form, 415, 'UNSUPPORTED_MEDIA_TYPE', /x-www-form-urlencoded.*Content-Type: application\/json/);
  });

  it('auth refusals carry their codes', async () => {
    expectError(await raw('GET', '/api/v1/backups', { token: null }), 401, 'UNAUTHORIZED', /Missing bearer token/);
    expectError(await raw('GET', '/api/v1/backups', { token: 'not-a-jwt' }), 401, 'UNAUTHORIZED');
    const viewer = await raw('POST', '/api/v1/backups', { token: t.token('viewer'), body: '{"target":"app"}', headers: { 'content-type': 'application/json' } });
    expectError(viewer, 403, 'FORBIDDEN', /needs the operator role/);
  });

  it('domain refusals carry the code of their module', async () => {
    const id = randomUUID();
    expectError(await api(t, 'GET', `/api/v1/backups/${id}`), 404, 'BACKUP_NOT_FOUND', new RegExp(id));
    expectError(await api(t, 'POST', '/api/v1/backups', { body: { target: 'nope' } }), 404, 'TARGET_NOT_FOUND', /Unknown target "nope" \(known targets: app\)/);
    expectError(await api(t, 'GET', '/api/v1/targets/nope/tables'), 404, 'TARGET_NOT_FOUND');
    expectError(await api(t, 'GET', `/api/v1/restores/${id}`), 404, 'RESTORE_NOT_FOUND');
    expectError(await api(t, 'GET', `/api/v1/schedules/${id}`), 404, 'SCHEDULE_NOT_FOUND');
    expectError(await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', tables: ['customers'] } }), 400, 'VALIDATION_FAILED', /set scope to "selective"/);
    expectError(await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', extra: 1 } }), 400, 'VALIDATION_FAILED', /extra should not exist/);
    expectError(await api(t, 'POST', `/api/v1/backups/${id}/restore`, { body: { confirm: true } }), 404, 'BACKUP_NOT_FOUND');
  });

  describe('one clear message per mistake (issue 15 item 8)', () => {
    const records = () => t.app.get<Repository<BackupRecord>>(getRepositoryToken(BackupRecord, CATALOG_CONNECTION), { strict: false });
    const insert = (id: string, metadata: BackupRecord['metadata'] = null) =>
      records().insert({ id, type: BackupType.Manual, status: BackupStatus.Failed, target: 'app', engine: 'postgres', compression: 'zstd', triggeredBy: 'test', metadata });

    it('a wrong type yields one message, not every rule of the field', async () => {
      const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 123 } });
      expectError(r, 400, 'VALIDATION_FAILED');
      expect(r.body.message).toEqual(['target must be a string']);
    });

    it('booleans in queries are true/false or an error, never silently false', async () => {
      expectError(await api(t, 'GET', '/api/v1/backups?includeDeleted=maybe'), 400, 'VALIDATION_FAILED', /includeDeleted must be true or false/);
      expect((await api(t, 'GET', '/api/v1/backups?includeDeleted=false')).status).toBe(200);
      expect((await api(t, 'GET', '/api/v1/backups?includeDeleted=1')).status).toBe(200);
      expectError(await api(t, 'DELETE', `/api/v1/backups/${randomUUID()}?hard=yes`), 400, 'VALIDATION_FAILED', /hard must be true or false/);
    });

    it('stats with from after to is a 400 naming both', async () => {
      expectError(await api(t, 'GET', '/api/v1/backups/stats?from=2025-02-01&to=2025-01-01'), 400, 'VALIDATION_FAILED', /from \(2025-02-01T00:00:00.000Z\) is after to/);
      expect((await api(t, 'GET', '/api/v1/backups/stats?from=2025-01-01&to=2025-02-01')).status).toBe(200);
    });

    it('the 8-character ids the CLI prints work where unambiguous; an ambiguous one is a 409 listing the matches', async () => {
      const a = `abcdef12${randomUUID().slice(8)}`;
      const b = `abcdef12${randomUUID().slice(8)}`;
      await insert(a);
      const one = await api(t, 'GET', `/api/v1/backups/${a.slice(0, 8)}`);
      expect({ status: one.status, id: one.body.id }).toEqual({ status: 200, id: a });
      await insert(b);
      const both = await api(t, 'GET', `/api/v1/backups/${a.slice(0, 8)}`);
      expectError(both, 409, 'AMBIGUOUS_ID', /give more characters or the full id/);
      expect(both.body.message).toContain(a);
      expect(both.body.message).toContain(b);
      // Longer prefixes tell them apart again; the routes that act on a backup take them too.
      expect((await api(t, 'GET', `/api/v1/backups/${a.slice(0, 13)}`)).body.id).toBe(a);
      const deleted = await api(t, 'DELETE', `/api/v1/backups/${b.slice(0, 13)}`);
      expect({ status: deleted.status, id: deleted.body.id }).toEqual({ status: 200, id: b });
      expectError(await api(t, 'GET', '/api/v1/backups/abc'), 404, 'BACKUP_NOT_FOUND', /first 8 or more characters/);
      expectError(await api(t, 'GET', '/api/v1/backups/ffffffff'), 404, 'BACKUP_NOT_FOUND', /no id starts with it/);
      expectError(await api(t, 'GET', '/api/v1/restores/ffffffff'), 404, 'RESTORE_NOT_FOUND');
      expectError(await api(t, 'GET', '/api/v1/schedules/ffffffff'), 404, 'SCHEDULE_NOT_FOUND');
    });

    it('responses are DTOs: the runner\'s internal metadata never reaches the API', async () => {
      const id = randomUUID();
      await insert(id, { pendingFileKeys: ['app/2025/x.dump.zst'], tableRows: { customers: 1 } });
      const got = await api(t, 'GET', `/api/v1/backups/${id}`);
      expect(got.body.metadata).toEqual({ tableRows: { customers: 1 } });
      const listed = (await api(t, 'GET', '/api/v1/backups?limit=100')).body.items.find((x: { id: string }) => x.id === id);
      expect(listed.metadata).toEqual({ tableRows: { customers: 1 } });
    });
  });
});
