import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { api } from '../support/api.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createMyDatabase, dropMyDatabase, myUrl } from '../support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from '../support/pg.js';

/**
 * Values a catalog engine cannot take must get a 400 that names the field, on every catalog
 * engine: a page number whose offset is past what a JavaScript number (and so TypeORM) holds
 * exactly, and NUL characters, which PostgreSQL text refuses, in any body, query or path field.
 */
const PAGED: Array<[path: string, maxLimit: number]> = [
  ['/api/v1/backups', 200],
  ['/api/v1/restores', 200],
  ['/api/v1/audit', 500],
  ['/api/v1/cache/history', 200],
];

describe.each(['sqlite', 'postgres', 'mysql'] as const)('with a %s catalog', (engine) => {
  let t: TestApp;
  let target: string;
  let catalog: string | undefined;

  beforeAll(async () => {
    target = await createPgDatabase('limits');
    await pgQuery(target, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');
    const env: Record<string, string> = { BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${target}`, AUTH_FAILURE_LIMIT: '0' };
    if (engine === 'postgres') {
      catalog = await createPgDatabase('limcat');
      env.CATALOG_URL = `postgres://postgres@127.0.0.1:5432/${catalog}`;
    } else if (engine === 'mysql') {
      catalog = await createMyDatabase('limcat');
      env.CATALOG_URL = myUrl(catalog);
    }
    t = await startTestApp(env);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await dropPgDatabase(target);
    if (engine === 'postgres' && catalog) await dropPgDatabase(catalog);
    if (engine === 'mysql' && catalog) await dropMyDatabase(catalog);
  });

  it('answers 400 naming `page` for a page past what the engines take, and serves the last page that fits', async () => {
    for (const [path, maxLimit] of PAGED) {
      const maxPage = Math.floor(Number.MAX_SAFE_INTEGER / maxLimit);
      for (const page of ['99999999999999999999', '1e300', String(maxPage + 1)]) {
        const r = await api(t, 'GET', `${path}?page=${page}`);
        expect({ path, page, status: r.status }).toEqual({ path, page, status: 400 });
        expect(JSON.stringify(r.body.message)).toContain('page');
      }
      const last = await api(t, 'GET', `${path}?page=${maxPage}&limit=${maxLimit}`);
      expect({ path, status: last.status, items: last.body.items }).toEqual({ path, status: 200, items: [] });
      expect((await api(t, 'GET', `${path}?limit=99999999999999999999`)).status).toBe(400);
    }
  });

  it('answers 400 naming the field for a NUL character in free text, queries and path parameters', async () => {
    const cases: Array<[method: string, path: string, body: unknown, field: string]> = [
      ['POST', '/api/v1/backups', { target: 'app', description: 'before\u0000after' }, 'description'],
      ['POST', '/api/v1/backups', { target: 'app', scope: 'selective', tables: ['t\u0000'] }, 'tables'],
      ['POST', '/api/v1/schedules', { name: 'nul', target: 'app', preset: 'daily', description: 'x\u0000' }, 'description'],
      ['POST', '/api/v1/schedules', { name: 'nul2', target: 'app', preset: 'daily', scope: 'selective', tables: ['t\u0000'] }, 'tables'],
      ['POST', '/api/v1/schedules', { name: 'nul3', target: 'app', preset: 'daily', retentionPolicy: 'x\u0000' }, 'retentionPolicy'],
      ['DELETE', '/api/v1/cache', { cacheType: 'memory', keys: ['k\u0000'] }, 'keys'],
      ['GET', '/api/v1/audit?actor=a%00b', undefined, 'actor'],
      ['GET', '/api/v1/audit?resource=%00', undefined, 'resource'],
      ['GET', '/api/v1/restores?target=app%00', undefined, 'target'],
      ['GET', '/api/v1/schedules/%00', undefined, 'id'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await api(t, method, path, { body });
      expect({ path, field, status: r.status }).toEqual({ path, field, status: 400 });
      expect(JSON.stringify(r.body.message)).toContain(field);
      expect(JSON.stringify(r.body.message)).toMatch(/NUL/);
    }
    // nothing was stored, and the same requests without the NUL go through
    expect((await api(t, 'GET', '/api/v1/backups')).body.total).toBe(0);
    expect((await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', description: 'before after' } })).status).toBe(202);
    expect((await api(t, 'GET', '/api/v1/audit?actor=a')).status).toBe(200);
  });
});
