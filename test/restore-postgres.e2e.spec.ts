// @serial checks that no bm_rs_/bm_drill_ database is left on the whole PostgreSQL server
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, downloadBytes, waitForBackup } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery, pgSnapshot } from './support/pg.js';

async function fill(db: string): Promise<void> {
  await pgQuery(db, `
    CREATE SCHEMA sales;
    CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
    CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(12,2), meta jsonb);
    CREATE TABLE "Odd Table" ("weird col" text);
    CREATE VIEW big AS SELECT * FROM sales.orders WHERE total > 100;
    INSERT INTO customers (name, email) SELECT 'Kunde ' || g || ' ✓', 'c' || g || '@example.com' FROM generate_series(1, 200) g;
    INSERT INTO sales.orders (customer_id, total, meta) SELECT 1 + (g % 200), g * 1.5, jsonb_build_object('g', g) FROM generate_series(1, 1000) g;
    INSERT INTO "Odd Table" VALUES ('a;b'), (NULL), ('\\.');
  `);
}

async function backup(t: TestApp, body: Record<string, unknown> = {}): Promise<any> {
  const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', ...body } });
  expect(r.status).toBe(202);
  const done = await waitForBackup(t, r.body.id);
  expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
  return done;
}

async function waitStatus(t: TestApp, id: string, statuses: string[]): Promise<any> {
  return waitFor(async () => {
    const r = await api(t, 'GET', `/api/v1/backups/${id}`);
    return statuses.includes(r.body.status) ? r.body : undefined;
  }, `backup ${id} to reach ${statuses.join('/')}`);
}

async function waitRestore(t: TestApp, id: string): Promise<any> {
  return waitFor(async () => {
    const r = await api(t, 'GET', `/api/v1/restores/${id}`);
    return ['COMPLETED', 'FAILED'].includes(r.body?.status) ? r.body : undefined;
  }, `restore ${id}`, 120_000);
}

describe('PostgreSQL restore and verification', () => {
  let t: TestApp;
  let source: string;
  let catalog: Database.Database;
  const extraDbs: string[] = [];
  const artifact = (b: any) => join(t.config.options.storageDir, b.fileKey);
  /** Replaces an artifact and makes the catalog agree with it (a valid checksum on bad content). */
  const replaceArtifact = (b: any, bytes: Buffer) => {
    writeFileSync(artifact(b), bytes);
    catalog
      .prepare('UPDATE bm_backup_records SET sizeBytes = ?, rawBytes = ?, checksum = ?, status = ? WHERE id = ?')
      .run(bytes.length, bytes.length, createHash('sha256').update(bytes).digest('hex'), 'COMPLETED', b.id);
  };
  const newDbName = (tag: string) => {
    const n = `bmt_${tag}_${randomBytes(4).toString('hex')}`;
    extraDbs.push(n);
    return n;
  };

  beforeAll(async () => {
    source = await createPgDatabase('restore');
    await fill(source);
    t = await startTestApp({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${source}`, WORKER_CONCURRENCY: '2' });
    catalog = new Database(join(t.dataDir, 'catalog.sqlite'));
  });

  afterAll(async () => {
    catalog?.close();
    await t?.close();
    for (const db of [source, ...extraDbs]) await dropPgDatabase(db);
  });

  it('basic-verifies every backup right after it completes and records exact row counts', async () => {
    const b = await backup(t);
    const v = await waitStatus(t, b.id, ['VERIFIED', 'CORRUPTED']);
    expect(v.status).toBe('VERIFIED');
    expect(v.verifiedAt).toBeTruthy();
    expect(v.metadata.verification).toMatchObject({ kind: 'basic', ok: true, sizeBytes: b.sizeBytes, rawBytes: b.rawBytes });
    expect(v.metadata.tableRows).toEqual({ customers: 200, 'sales.orders': 1000, '"Odd Table"': 3 });
  });

  it.each(['plain', 'custom'])('restores a %s dump over the original database after a safety backup; the rows come back and the safety backup restores the changed state', async (format) => {
    const before = await pgSnapshot(source);
    const b = await backup(t, { format });
    await pgQuery(source, `DELETE FROM sales.orders WHERE id > 500; UPDATE customers SET name = 'changed' WHERE id < 10; CREATE TABLE added_later (x int); INSERT INTO added_later VALUES (1);`);
    const changed = await pgSnapshot(source);

    const r = await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true } });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: 'QUEUED', backupId: b.id, database: source, intoOtherDatabase: false, dropExisting: true, safetyBackup: true, requestedBy: 'user:tester' });
    const run = await waitRestore(t, r.body.id);
    expect(run.errorMessage).toBeNull();
    expect(run.status).toBe('COMPLETED');
    const after = await pgSnapshot(source);
    // pg_restore --clean replaces the archive's objects only: a table created later stays (docs/restore.md).
    if (format === 'custom') delete after['public.added_later'];
    expect(after).toEqual(before);
    expect((await pgQuery(source, 'SELECT count(*)::int AS n FROM big'))[0].n).toBeGreaterThan(0);

    expect(run.safetyBackupId).toBeTruthy();
    const safety = await waitStatus(t, run.safetyBackupId, ['COMPLETED', 'VERIFIED']);
    expect(safety.triggeredBy).toBe(`restore:${run.id}`);
    const copy = newDbName('safety');
    const r2 = await api(t, 'POST', `/api/v1/backups/${safety.id}/restore`, { body: { confirm: true, targetDatabase: copy } });
    expect(r2.status).toBe(202);
    expect((await waitRestore(t, r2.body.id)).status).toBe('COMPLETED');
    expect(await pgSnapshot(copy)).toEqual(changed);
    await pgQuery(source, 'DROP TABLE IF EXISTS added_later');
  });

  it('restores into targetDatabase (created if missing) and leaves the original untouched', async () => {
    const b = await backup(t, { compression: 'gzip' });
    await pgQuery(source, `INSERT INTO customers (name) VALUES ('only in the original')`);
    const original = await pgSnapshot(source);
    const copy = newDbName('copy');
    const r = await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, targetDatabase: copy } });
    expect(r.body).toMatchObject({ database: copy, intoOtherDatabase: true, safetyBackup: true, dropExisting: false });
    const run = await waitRestore(t, r.body.id);
    expect(run.status).toBe('COMPLETED');
    expect(run.safetyBackupId).toBeNull();
    expect(await pgSnapshot(source)).toEqual(original);
    const copied = await pgSnapshot(copy);
    expect(JSON.parse(copied['public.customers'])).toHaveLength(200);
    expect(copied['sales.orders']).toEqual(original['sales.orders']);
    await pgQuery(source, `DELETE FROM customers WHERE name = 'only in the original'`);
  });

  it('restores a custom-format archive into a new database through pg_restore', async () => {
    const b = await backup(t, {});
    // Its verification must be over before the artifact is swapped: a verification still reading
    // the old file would see the new bytes and mark the backup CORRUPTED (seen once on a loaded CI run).
    await waitStatus(t, b.id, ['VERIFIED']);
    // Make the record a custom-format archive produced by pg_dump directly.
    const { spawnSync } = await import('node:child_process');
    const dump = spawnSync('pg_dump', ['-h', '127.0.0.1', '-U', 'postgres', '--format=custom', '--compress=0', source], { maxBuffer: 1 << 28 });
    expect(dump.status).toBe(0);
    replaceArtifact(b, dump.stdout);
    catalog.prepare(`UPDATE bm_backup_records SET format = 'custom', compression = 'none' WHERE id = ?`).run(b.id);
    const copy = newDbName('custom');
    const run = await waitRestore(t, (await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, targetDatabase: copy } })).body.id);
    expect({ status: run.status, error: run.errorMessage }).toEqual({ status: 'COMPLETED', error: null });
    expect(await pgSnapshot(copy)).toEqual(await pgSnapshot(source));
  });

  it('a custom archive that fails to load into a new database leaves no database behind, nor a scratch one', async () => {
    const b = await backup(t, {});
    // An archive whose table belongs to a role that no longer exists: pg_restore stops at its ALTER ... OWNER.
    const role = `bmt_gone_${randomBytes(4).toString('hex')}`;
    const from = newDbName('owned');
    await pgQuery('postgres', `CREATE ROLE ${role}`);
    await pgQuery('postgres', `CREATE DATABASE ${from}`);
    await pgQuery(from, `CREATE TABLE kept (id int); INSERT INTO kept VALUES (1); ALTER TABLE kept OWNER TO ${role}`);
    const { spawnSync } = await import('node:child_process');
    const dump = spawnSync('pg_dump', ['-h', '127.0.0.1', '-U', 'postgres', '--format=custom', '--compress=0', from], { maxBuffer: 1 << 28 });
    expect(dump.status).toBe(0);
    await pgQuery('postgres', `DROP DATABASE ${from}`);
    await pgQuery('postgres', `DROP ROLE ${role}`);
    replaceArtifact(b, dump.stdout);
    catalog.prepare(`UPDATE bm_backup_records SET format = 'custom', compression = 'none' WHERE id = ?`).run(b.id);
    const scratch = async () => (await pgQuery('postgres', `SELECT datname FROM pg_database WHERE datname LIKE 'bm\\_rs\\_%'`)).map((r) => r.datname as string);
    const before = await scratch();
    const copy = newDbName('failed');
    const run = await waitRestore(t, (await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, targetDatabase: copy } })).body.id);
    expect(run.status).toBe('FAILED');
    expect(run.errorMessage).toContain(`role "${role}" does not exist`);
    expect(run.errorMessage).not.toMatch(/bm_rs_/);
    expect(await pgQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [copy])).toHaveLength(0);
    expect((await scratch()).filter((d) => !before.includes(d))).toEqual([]);
  });

  it('a flipped byte: verify says CORRUPTED, a forced restore fails before the target changes, the download aborts', async () => {
    const b = await backup(t, { compression: 'none', format: 'plain' });
    await waitStatus(t, b.id, ['VERIFIED']);
    const bytes = readFileSync(artifact(b));
    const at = bytes.indexOf('Kunde 150');
    expect(at).toBeGreaterThan(0);
    bytes[at] = 'Q'.charCodeAt(0); // still valid SQL: only the checksum can tell
    writeFileSync(artifact(b), bytes);
    await pgQuery(source, `UPDATE customers SET name = 'live' WHERE id = 1`);
    const live = await pgSnapshot(source);

    // The restore is requested while the record still says VERIFIED: the stream check must catch it.
    const r = await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, safetyBackup: false } });
    expect(r.status).toBe(202);
    const run = await waitRestore(t, r.body.id);
    expect(run.status).toBe('FAILED');
    expect(run.errorMessage).toMatch(/checksum mismatch/);
    expect(await pgSnapshot(source)).toEqual(live);

    const dl = await downloadBytes(t, b.id).catch(() => ({ status: 0, bytes: Buffer.alloc(0) }));
    expect(dl.bytes.length).toBeLessThan(bytes.length);

    expect((await api(t, 'POST', `/api/v1/backups/${b.id}/verify`, { body: {} })).status).toBe(202);
    const v = await waitStatus(t, b.id, ['CORRUPTED']);
    expect(v.errorMessage).toMatch(/checksum mismatch/);
    expect(v.metadata.verification).toMatchObject({ kind: 'basic', ok: false });
    const refused = await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true } });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/CORRUPTED.*force/);
    await pgQuery(source, `UPDATE customers SET name = 'Kunde 1 ✓' WHERE id = 1`);
  });

  it('a truncated artifact: verify says CORRUPTED, a forced restore fails and changes nothing', async () => {
    const b = await backup(t);
    await waitStatus(t, b.id, ['VERIFIED']);
    const bytes = readFileSync(artifact(b));
    writeFileSync(artifact(b), bytes.subarray(0, Math.floor(bytes.length / 2)));
    await api(t, 'POST', `/api/v1/backups/${b.id}/verify`, { body: {} });
    const v = await waitStatus(t, b.id, ['CORRUPTED']);
    expect(v.errorMessage).toMatch(/truncated/);
    const before = await pgSnapshot(source);
    const run = await waitRestore(t, (await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, force: true, safetyBackup: false } })).body.id);
    expect(run.status).toBe('FAILED');
    expect(await pgSnapshot(source)).toEqual(before);
  });

  it('a dump that fails near its end leaves the target unchanged', async () => {
    const b = await backup(t, { compression: 'none', format: 'plain' });
    await waitStatus(t, b.id, ['VERIFIED']);
    const sql = readFileSync(artifact(b), 'utf8');
    const cut = Math.floor(sql.length * 0.9);
    const nl = sql.indexOf('\n\n', cut);
    replaceArtifact(b, Buffer.from(`${sql.slice(0, nl)}\n\nSELECT 1 / 0;\n${sql.slice(nl)}`));
    await pgQuery(source, `UPDATE customers SET email = NULL WHERE id = 2`);
    const before = await pgSnapshot(source);
    const run = await waitRestore(t, (await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, safetyBackup: false } })).body.id);
    expect(run.status).toBe('FAILED');
    expect(run.errorMessage).toMatch(/division by zero/);
    expect(run.errorMessage).toMatch(/rolled back/);
    expect(await pgSnapshot(source)).toEqual(before);
    await pgQuery(source, `UPDATE customers SET email = 'c2@example.com' WHERE id = 2`);
  });

  it('never runs psql meta-commands found in a dump', async () => {
    const b = await backup(t, { compression: 'none', format: 'plain' });
    await waitStatus(t, b.id, ['VERIFIED']);
    const marker = `/tmp/bm-pwned-${randomBytes(4).toString('hex')}`;
    const sql = readFileSync(artifact(b), 'utf8');
    const at = sql.indexOf('CREATE TABLE');
    replaceArtifact(b, Buffer.from(`${sql.slice(0, at)}\\! touch ${marker}\nSELECT 1; \\! touch ${marker}\n${sql.slice(at)}`));
    const copy = newDbName('pwn');
    const run = await waitRestore(t, (await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, targetDatabase: copy } })).body.id);
    expect(run.status).toBe('FAILED');
    expect(run.errorMessage).toMatch(/meta-command/);
    expect(existsSync(marker)).toBe(false);
    // The database created for the failed restore is dropped again.
    expect(await pgQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [copy])).toHaveLength(0);
  });

  it('drills: passes on a good backup, fails with a clear reason when a table differs', async () => {
    const b = await backup(t);
    await waitStatus(t, b.id, ['VERIFIED']);
    const ok = await api(t, 'POST', `/api/v1/backups/${b.id}/verify`, { body: { drill: true }, token: t.token('operator') });
    expect(ok.status).toBe(202);
    const passed = await waitFor(async () => {
      const r = await api(t, 'GET', `/api/v1/backups/${b.id}`);
      return r.body.metadata?.drill ? r.body : undefined;
    }, 'drill result');
    expect(passed.status).toBe('VERIFIED');
    expect(passed.metadata.drill).toMatchObject({ kind: 'drill', ok: true, tables: 3, rows: 1203 });
    const leftovers = await pgQuery('postgres', `SELECT datname FROM pg_database WHERE datname LIKE 'bm\\_drill\\_%'`);
    expect(leftovers).toHaveLength(0);

    const meta = JSON.parse(catalog.prepare('SELECT metadata FROM bm_backup_records WHERE id = ?').pluck().get(b.id) as string);
    meta.tableRows['sales.orders'] = 999;
    delete meta.drill;
    catalog.prepare('UPDATE bm_backup_records SET metadata = ? WHERE id = ?').run(JSON.stringify(meta), b.id);
    await api(t, 'POST', `/api/v1/backups/${b.id}/verify`, { body: { drill: true } });
    const failed = await waitStatus(t, b.id, ['CORRUPTED']);
    expect(failed.errorMessage).toContain('table sales.orders has 1000 rows, 999 at backup time');
    expect(failed.metadata.drill.ok).toBe(false);
  });

  it('never overlaps a restore and a backup of the same target; a second restore gets 409', async () => {
    const b = await backup(t);
    const [r, bk] = await Promise.all([
      api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, safetyBackup: false } }),
      api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } }),
    ]);
    expect(r.status).toBe(202);
    const second = await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true } });
    expect(second.status).toBe(409);
    expect(second.body.message).toContain(r.body.id);
    const run = await waitRestore(t, r.body.id);
    const other = await waitForBackup(t, bk.body.id);
    expect(run.status).toBe('COMPLETED');
    expect(['COMPLETED', 'VERIFIED']).toContain(other.status);
    const a = [Date.parse(run.startedAt), Date.parse(run.completedAt)];
    const c = [Date.parse(other.startedAt), Date.parse(other.completedAt)];
    expect(a[1] <= c[0] || c[1] <= a[0]).toBe(true);
  });

  it('answers bad input with a clear 4xx and lists restores', async () => {
    const b = await backup(t);
    const noConfirm = await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: {} });
    expect(noConfirm.status).toBe(400);
    expect(noConfirm.body.message).toMatch(/confirm: true is required/);
    expect((await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true }, token: t.token('operator') })).status).toBe(403);
    expect((await api(t, 'POST', `/api/v1/backups/${b.id}/verify`, { body: {}, token: t.token('viewer') })).status).toBe(403);
    expect((await api(t, 'POST', '/api/v1/backups/00000000-0000-4000-8000-000000000000/restore', { body: { confirm: true } })).status).toBe(404);
    const badDb = await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, targetDatabase: 'x"; DROP DATABASE y; --' } });
    expect(badDb.status).toBe(400);
    expect(JSON.stringify(badDb.body.message)).toContain('targetDatabase');
    expect((await api(t, 'DELETE', `/api/v1/backups/${b.id}`)).status).toBe(200);
    const deleted = await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true } });
    expect(deleted.status).toBe(409);
    expect((await api(t, 'POST', `/api/v1/backups/${b.id}/verify`, { body: {} })).status).toBe(409);

    const list = await api(t, 'GET', '/api/v1/restores?limit=2', { token: t.token('viewer') });
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(2);
    expect(list.body.total).toBeGreaterThanOrEqual(5);
    const failed = await api(t, 'GET', '/api/v1/restores?status=FAILED&limit=50');
    expect(failed.body.items.every((x: any) => x.status === 'FAILED')).toBe(true);
    expect((await api(t, 'GET', '/api/v1/restores/not-a-uuid')).status).toBe(404);
    const stats = await api(t, 'GET', '/api/v1/restores/stats');
    expect(stats.body.restores.COMPLETED).toBeGreaterThanOrEqual(3);
    expect(stats.body.verifications.VERIFIED).toBeGreaterThanOrEqual(1);
    const doc = await api(t, 'GET', '/docs-json', { token: null });
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/v1/backups/{id}/restore', '/api/v1/backups/{id}/verify', '/api/v1/restores', '/api/v1/restores/{id}']));
  });
});
