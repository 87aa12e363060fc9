import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { api, downloadBytes, waitForBackup } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { decompress } from './support/codec.js';
import { createPgDatabase, dropPgDatabase, pgQuery, pgSnapshot, psqlLoad } from './support/pg.js';

/** The fixture: several tables, unicode, bytea, json, a view and a sequence past its start. */
async function fillFixture(db: string): Promise<void> {
  await pgQuery(db, `
    CREATE SEQUENCE invoice_no START 1000;
    CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, created_at timestamptz DEFAULT now());
    CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers(id), invoice int DEFAULT nextval('invoice_no'),
                         total numeric(12,2), meta jsonb, note text);
    CREATE TABLE blobs (id int PRIMARY KEY, data bytea, tags text[]);
    CREATE TABLE "Odd Table" ("weird col" text, "ünïcode" text);
    CREATE VIEW big_orders AS SELECT o.id, c.name, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.total > 100;
    INSERT INTO customers (name, email) SELECT 'Kunde ' || g || ' – 日本語 🚀', 'c' || g || '@example.com' FROM generate_series(1, 300) g;
    INSERT INTO orders (customer_id, total, meta, note)
      SELECT 1 + (g % 300), (g * 7.31)::numeric(12,2), jsonb_build_object('g', g, 'tags', jsonb_build_array('a', 'ß', '✓')), E'line1\\nline2\\ttab ''quote'''
      FROM generate_series(1, 2000) g;
    INSERT INTO blobs SELECT g, decode(md5(g::text) || '00ff10', 'hex'), ARRAY['x' || g, 'ü'] FROM generate_series(1, 50) g;
    INSERT INTO "Odd Table" VALUES ('a;b', 'Ωmega'), (NULL, '');
  `);
}

describe('PostgreSQL backups through the queue', () => {
  let t: TestApp;
  let source: string;
  const restored: string[] = [];

  beforeAll(async () => {
    source = await createPgDatabase('spine');
    await fillFixture(source);
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${source}`,
      BACKUP_TARGET_GHOST_URL: 'postgres://nobody_here:S3cr3t-P%40ss@127.0.0.1:5432/no_such_db_bm',
    });
  });

  afterAll(async () => {
    await t?.close();
    for (const db of [source, ...restored]) await dropPgDatabase(db);
  });

  it.each(['zstd', 'gzip', 'none'])('backs up with %s, downloads with a matching checksum, and restores every row', async (compression) => {
    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', compression, description: 'e2e', format: 'plain' }, token: t.token('operator') });
    expect(created.status).toBe(202);
    expect(created.body.status).toBe('QUEUED');
    const done = await waitForBackup(t, created.body.id);
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status); // every backup is basic-verified right after it completes
    expect(done.fileExists).toBe(true);
    expect(done.tableCount).toBe(4);
    expect(done.triggeredBy).toBe('user:tester');
    expect(done.fileKey).toMatch(new RegExp(`^app/app_manual_\\d{8}T\\d{6}Z_[0-9a-f]{8}\\.sql${compression === 'zstd' ? '\\.zst' : compression === 'gzip' ? '\\.gz' : ''}$`));

    const dl = await downloadBytes(t, done.id);
    expect(dl.status).toBe(200);
    const sha = createHash('sha256').update(dl.bytes).digest('hex');
    expect(sha).toBe(done.checksum);
    expect(dl.headers.get('x-checksum-sha256')).toBe(done.checksum);
    expect(dl.bytes.length).toBe(done.sizeBytes);

    const sql = decompress(dl.bytes, compression);
    expect(sql.length).toBe(done.rawBytes);
    const copy = await createPgDatabase('restore');
    restored.push(copy);
    await psqlLoad(copy, sql);
    expect(await pgSnapshot(copy)).toEqual(await pgSnapshot(source));
    const view = await pgQuery(copy, 'SELECT count(*)::int AS n FROM big_orders');
    expect(view[0].n).toBe((await pgQuery(source, 'SELECT count(*)::int AS n FROM big_orders'))[0].n);
    const seq = await pgQuery(copy, 'SELECT last_value::int AS v FROM invoice_no');
    expect(seq[0].v).toBe(1000 + 2000 - 1);
  });

  it('writes the artifact 0600 in 0700 directories with a manifest beside it', async () => {
    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    const done = await waitForBackup(t, created.body.id);
    const file = join(t.config.options.storageDir, done.fileKey);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(t.config.options.storageDir, 'app')).mode & 0o777).toBe(0o700);
    expect(statSync(t.config.options.storageDir).mode & 0o777).toBe(0o700);
    const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8'));
    expect(manifest).toMatchObject({ formatVersion: 1, id: done.id, engine: 'postgres', compression: 'zstd', checksum: { algorithm: 'sha256', value: done.checksum } });
    expect(manifest.clientVersion).toMatch(/^pg_dump \(PostgreSQL\) \d+/);
    expect(JSON.stringify(manifest)).not.toMatch(/password/i);
  });

  it('lists with filters and pagination, and deletes soft then hard', async () => {
    await waitFor(async () => (await api(t, 'GET', '/api/v1/backups?target=app&status=VERIFIED')).body.total >= 4, 'the automatic verifications');
    const page = await api(t, 'GET', '/api/v1/backups?limit=2&page=1&target=app&status=VERIFIED', { token: t.token('viewer') });
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(2);
    expect(page.body.total).toBeGreaterThanOrEqual(4);
    expect(page.body.pages).toBe(Math.ceil(page.body.total / 2));
    const victim = page.body.items[0];

    expect((await api(t, 'DELETE', `/api/v1/backups/${victim.id}`, { token: t.token('operator') })).status).toBe(403);
    const soft = await api(t, 'DELETE', `/api/v1/backups/${victim.id}`);
    expect(soft.status).toBe(200);
    expect(soft.body.deletedAt).toBeTruthy();
    const file = join(t.config.options.storageDir, victim.fileKey);
    expect(existsSync(file)).toBe(true);
    const listed = await api(t, 'GET', '/api/v1/backups?limit=200');
    expect(listed.body.items.map((b: any) => b.id)).not.toContain(victim.id);
    const withDeleted = await api(t, 'GET', '/api/v1/backups?limit=200&includeDeleted=true');
    expect(withDeleted.body.items.map((b: any) => b.id)).toContain(victim.id);

    const hard = await api(t, 'DELETE', `/api/v1/backups/${victim.id}?hard=true`);
    expect(hard.status).toBe(200);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.manifest.json`)).toBe(false);
    expect((await api(t, 'GET', `/api/v1/backups/${victim.id}`)).body.fileExists).toBe(false);
  });

  it('answers bad input with a clear 4xx', async () => {
    const unknown = await api(t, 'POST', '/api/v1/backups', { body: { target: 'nope' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toContain('Unknown target "nope"');

    const badEnum = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', type: 'hourly' } });
    expect(badEnum.status).toBe(400);
    expect(JSON.stringify(badEnum.body.message)).toContain('type must be one of: manual, daily, weekly, monthly');

    const extra = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', fileKey: '../../etc/passwd' } });
    expect(extra.status).toBe(400);
    expect(JSON.stringify(extra.body.message)).toContain('fileKey');

    const badCompression = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', compression: 'brotli' } });
    expect(badCompression.status).toBe(400);
    expect(JSON.stringify(badCompression.body.message)).toContain('compression must be one of');

    expect((await api(t, 'GET', '/api/v1/backups/not-a-uuid')).status).toBe(404);
    expect((await api(t, 'GET', '/api/v1/backups/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await api(t, 'GET', '/api/v1/backups?status=BOGUS')).status).toBe(400);
  });

  it('refuses missing, expired, unsigned and wrongly signed tokens, and viewers creating backups', async () => {
    const secret = t.config.options.auth.jwtSecret;
    expect((await api(t, 'GET', '/api/v1/backups', { token: null })).status).toBe(401);
    const expired = jwt.sign({ role: 'admin', sub: 'x', exp: Math.floor(Date.now() / 1000) - 60 }, secret);
    const r1 = await api(t, 'GET', '/api/v1/backups', { token: expired });
    expect(r1.status).toBe(401);
    expect(r1.body.message).toBe('token expired');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ role: 'admin', sub: 'x', exp: 9999999999 })).toString('base64url')}.`;
    expect((await api(t, 'GET', '/api/v1/backups', { token: none })).status).toBe(401);
    const noExp = jwt.sign({ role: 'admin', sub: 'x' }, secret);
    expect((await api(t, 'GET', '/api/v1/backups', { token: noExp })).body.message).toBe('token has no exp claim');
    const wrongKey = jwt.sign({ role: 'admin', sub: 'x' }, 'another-secret-of-sufficient-length!!', { expiresIn: 60 });
    expect((await api(t, 'GET', '/api/v1/backups', { token: wrongKey })).status).toBe(401);
    const viewer = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' }, token: t.token('viewer') });
    expect(viewer.status).toBe(403);
    expect(viewer.body.message).toContain('operator');
  });

  it('fails an unreachable target with a clear message, without its password, and without retrying', async () => {
    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'ghost' } });
    expect(created.status).toBe(202);
    const done = await waitForBackup(t, created.body.id);
    expect(done.status).toBe('FAILED');
    expect(done.errorMessage).toMatch(/nobody_here|no_such_db_bm/);
    expect(done.errorMessage).toMatch(/does not exist|authentication failed/);
    expect(done.attempts).toBe(1);
    const raw = JSON.stringify(done);
    expect(raw).not.toContain('S3cr3t');
    const targets = await api(t, 'GET', '/api/v1/targets');
    expect(JSON.stringify(targets.body)).not.toContain('S3cr3t');
    expect(targets.body.map((x: any) => x.name).sort()).toEqual(['app', 'ghost']);
  });

  it('serves Swagger UI and an OpenAPI document without auth', async () => {
    const doc = await api(t, 'GET', '/docs-json', { token: null });
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/v1/backups', '/api/v1/backups/{id}', '/api/v1/backups/{id}/download', '/api/v1/targets']));
    expect((await api(t, 'GET', '/docs', { token: null })).status).toBe(200);
    expect((await api(t, 'GET', '/health/live', { token: null })).body).toMatchObject({ status: 'ok' });
  });
});
