import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ERROR_STATUS, type ErrorCode } from '../src/common/error-codes.js';
import { AccountsService } from '../src/accounts/accounts.service.js';
import { Role } from '../src/auth/roles.js';
import { api } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/**
 * Issue 15 item 7: the OpenAPI document does not mislead. Every request example is accepted as
 * documented, every error example is the real body of its status, nullable fields are typed, and
 * every authenticated operation documents 401 and 403.
 */
describe('the OpenAPI document', () => {
  let t: TestApp;
  let db: string;
  let doc: any;

  const operations = () =>
    Object.entries(doc.paths as Record<string, any>).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method] })),
    );

  beforeAll(async () => {
    db = await createPgDatabase('oapi');
    await pgQuery(db, 'CREATE TABLE customers (id int PRIMARY KEY, name text); INSERT INTO customers SELECT g, md5(g::text) FROM generate_series(1, 50) g;');
    // The channel examples name real receivers (Slack, Telegram...): nothing may be sent to them.
    t = await startTestApp({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`, NOTIFY_ENABLED: 'false' });
    // The login and token examples name the account "alice"; the test's own token names "tester".
    const accounts = t.app.get(AccountsService, { strict: false });
    await accounts.createUser('alice', Role.Admin, 'correct-horse-battery-staple');
    await accounts.createUser('tester', Role.Admin, 'some-password-0123');
    doc = (await api(t, 'GET', '/docs-json', { token: null })).body;
    if (process.env.DUMP_DOC) (await import('node:fs')).writeFileSync(process.env.DUMP_DOC, JSON.stringify(doc, null, 1));
  });

  afterAll(async () => {
    await t?.close();
    if (db) await dropPgDatabase(db);
  });

  it("prefixes the library's schema names, so they never replace a host's", () => {
    const names = Object.keys(doc.components.schemas);
    expect(names).toContain('BmErrorResponse');
    expect(names.filter((n) => !n.startsWith('Bm'))).toEqual([]);
  });

  it('types every field: nullable ones too, never an empty schema', () => {
    const untyped: string[] = [];
    for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, any>)) {
      for (const [prop, s] of Object.entries((schema.properties ?? {}) as Record<string, any>)) {
        const typed = s.$ref || s.allOf || s.oneOf || s.anyOf || (s.type && (s.type !== 'object' || s.properties || s.additionalProperties || s.example));
        if (!typed) untyped.push(`${name}.${prop}`);
      }
    }
    expect(untyped).toEqual([]);
  });

  it('documents 401 and 403 on every authenticated operation, and each error example is the real body of its status', () => {
    const problems: string[] = [];
    for (const { path, method, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      if (op.security?.length) {
        for (const status of ['401', '403']) if (!op.responses[status]) problems.push(`${where}: no ${status}`);
      }
      for (const [status, res] of Object.entries(op.responses as Record<string, any>)) {
        if (Number(status) < 400 || path.startsWith('/health') || path.endsWith('/system/health')) continue;
        const examples = Object.values((res.content?.['application/json']?.examples ?? {}) as Record<string, any>);
        if (!examples.length) problems.push(`${where} ${status}: no example`);
        for (const { value } of examples) {
          const ok = value.statusCode === Number(status) && ERROR_STATUS[value.code as ErrorCode] === Number(status) && typeof value.error === 'string' && !!value.message;
          if (!ok) problems.push(`${where} ${status}: example ${JSON.stringify(value)}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('gives every request body an example, and each one is accepted with its documented status', async () => {
    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    // COMPLETED comes first; the verification that follows must not race the examples.
    const backup = await waitFor(async () => {
      const r = await api(t, 'GET', `/api/v1/backups/${created.body.id}`);
      return r.body.status === 'VERIFIED' && r.body;
    }, 'the backup to be verified');
    const ids: Record<string, string> = {};
    const withBody = operations().filter(({ op }) => op.requestBody);
    expect(withBody.length).toBeGreaterThanOrEqual(7);
    // Creations first: the routes on an id use what they made.
    withBody.sort((a, b) => Number(a.path.includes('{')) - Number(b.path.includes('{')));
    const results: string[] = [];
    for (const { path, method, op } of withBody) {
      const examples = Object.entries((op.requestBody.content['application/json'].examples ?? {}) as Record<string, any>);
      if (!examples.length) results.push(`${method.toUpperCase()} ${path}: no example`);
      const documented = Object.keys(op.responses).filter((s) => Number(s) < 300);
      for (const [name, { value }] of examples) {
        const url = path.replace('{id}', path.startsWith('/api/v1/schedules') ? ids.schedule : path.startsWith('/api/v1/notifications/channels') ? ids.channel : backup.id);
        const r = await api(t, method.toUpperCase(), url, { body: value });
        if (path === '/api/v1/schedules' && r.status === 201) ids.schedule ??= r.body.id;
        if (path === '/api/v1/notifications/channels' && r.status === 201) ids.channel ??= r.body.id;
        results.push(`${method.toUpperCase()} ${path} ${name}: ${documented.includes(String(r.status)) ? 'ok' : `${r.status} ${r.text.slice(0, 300)}`}`);
      }
    }
    expect(results.filter((r) => !r.endsWith(': ok'))).toEqual([]);
    // The restore and the drill the examples queued end before the database goes.
    await waitFor(async () => {
      const runs = (await api(t, 'GET', '/api/v1/restores?limit=100')).body.items as any[];
      return runs.length > 0 && runs.every((r) => !['QUEUED', 'RUNNING'].includes(r.status));
    }, 'the example restore to end', 120_000);
  });
});
