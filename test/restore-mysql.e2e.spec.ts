// @serial checks that no bm_rs_/bm_old_ database is left on the whole MariaDB server
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, waitForBackup } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createMyDatabase, dropMyDatabase, myQuery, myUrl } from './support/mysql.js';

async function snapshot(db: string): Promise<Record<string, unknown>> {
  const tables = await myQuery<{ t: string }>(undefined, `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1`, [db]);
  const out: Record<string, unknown> = {};
  for (const { t } of tables) out[t] = await myQuery(db, `SELECT * FROM \`${t}\` ORDER BY 1`);
  return out;
}

async function waitRestore(t: TestApp, id: string): Promise<any> {
  return waitFor(async () => {
    const r = await api(t, 'GET', `/api/v1/restores/${id}`);
    return ['COMPLETED', 'FAILED'].includes(r.body?.status) ? r.body : undefined;
  }, `restore ${id}`, 120_000);
}

async function waitStatus(t: TestApp, id: string, statuses: string[]): Promise<any> {
  return waitFor(async () => {
    const r = await api(t, 'GET', `/api/v1/backups/${id}`);
    return statuses.includes(r.body.status) ? r.body : undefined;
  }, `backup ${id} to reach ${statuses.join('/')}`);
}

describe('MariaDB restore and verification', () => {
  let t: TestApp;
  let source: string;
  let catalog: Database.Database;
  const extra: string[] = [];

  beforeAll(async () => {
    source = await createMyDatabase('myrestore');
    await myQuery(source, [
      'CREATE TABLE customers (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100) NOT NULL) ENGINE=InnoDB',
      'CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT, total DECIMAL(10,2), FOREIGN KEY (customer_id) REFERENCES customers(id)) ENGINE=InnoDB',
      "INSERT INTO customers (name) SELECT CONCAT('Kunde ', seq, ' ✓') FROM seq_1_to_150",
      'INSERT INTO orders (customer_id, total) SELECT 1 + (seq % 150), seq * 1.25 FROM seq_1_to_600',
    ]);
    t = await startTestApp({ BACKUP_TARGET_SHOP_URL: myUrl(source) });
    catalog = new Database(join(t.dataDir, 'catalog.sqlite'));
  });

  afterAll(async () => {
    catalog?.close();
    await t?.close();
    for (const db of [source, ...extra]) await dropMyDatabase(db);
  });

  const backup = async (body: Record<string, unknown> = {}) => {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'shop', ...body } });
    expect(r.status).toBe(202);
    const done = await waitForBackup(t, r.body.id);
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    return waitStatus(t, done.id, ['VERIFIED']);
  };

  it('round trip into the original database: rows come back, the safety backup restores the changed state', async () => {
    const before = await snapshot(source);
    const b = await backup();
    expect(b.metadata.tableRows).toEqual({ customers: 150, orders: 600 });
    await myQuery(source, ['DELETE FROM orders WHERE id > 100', "UPDATE customers SET name = 'changed' WHERE id < 5", 'CREATE TABLE added_later (x INT)']);
    const changed = await snapshot(source);
    const run = await waitRestore(t, (await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true } })).body.id);
    expect(run.errorMessage).toBeNull();
    expect(run.status).toBe('COMPLETED');
    expect(await snapshot(source)).toEqual(before);
    // Foreign keys still work after the swap.
    await expect(myQuery(source, 'INSERT INTO orders (customer_id, total) VALUES (99999, 1)')).rejects.toThrow(/foreign key/i);

    const copy = `bmt_mysafe_${randomBytes(4).toString('hex')}`;
    extra.push(copy);
    const r2 = await waitRestore(t, (await api(t, 'POST', `/api/v1/backups/${run.safetyBackupId}/restore`, { body: { confirm: true, targetDatabase: copy } })).body.id);
    expect(r2.status).toBe('COMPLETED');
    expect(await snapshot(copy)).toEqual(changed);
  });

  it('restores into targetDatabase and leaves the original untouched', async () => {
    const b = await backup({ compression: 'gzip' });
    await myQuery(source, "INSERT INTO customers (name) VALUES ('only in the original')");
    const original = await snapshot(source);
    const copy = `bmt_mycopy_${randomBytes(4).toString('hex')}`;
    extra.push(copy);
    const run = await waitRestore(t, (await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, targetDatabase: copy } })).body.id);
    expect(run.status).toBe('COMPLETED');
    expect(await snapshot(source)).toEqual(original);
    expect((await snapshot(copy)).orders).toEqual(original.orders);
    await myQuery(source, "DELETE FROM customers WHERE name = 'only in the original'");
  });

  it('a flipped byte fails the restore before the target changes; client commands in a dump never run', async () => {
    const b = await backup({ compression: 'none' });
    const file = join(t.config.options.storageDir, b.fileKey);
    const bytes = readFileSync(file);
    bytes[bytes.indexOf('Kunde 42')] = 'Q'.charCodeAt(0);
    writeFileSync(file, bytes);
    await myQuery(source, "UPDATE customers SET name = 'live' WHERE id = 1");
    const live = await snapshot(source);
    const run = await waitRestore(t, (await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, safetyBackup: false } })).body.id);
    expect(run.status).toBe('FAILED');
    expect(run.errorMessage).toMatch(/checksum mismatch/);
    expect(await snapshot(source)).toEqual(live);
    const leftovers = await myQuery(undefined, `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'bm\\_rs\\_%' OR schema_name LIKE 'bm\\_old\\_%'`);
    expect(leftovers).toHaveLength(0);

    const marker = `/tmp/bm-my-pwned-${randomBytes(4).toString('hex')}`;
    const sql = Buffer.from(`\\! touch ${marker}\nsystem touch ${marker}\n${bytes.toString('utf8').replace('Qunde 42', 'Kunde 42')}`);
    writeFileSync(file, sql);
    catalog.prepare('UPDATE bm_backup_records SET sizeBytes = ?, rawBytes = ?, checksum = ?, status = ? WHERE id = ?').run(sql.length, sql.length, createHash('sha256').update(sql).digest('hex'), 'COMPLETED', b.id);
    const run2 = await waitRestore(t, (await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, safetyBackup: false } })).body.id);
    expect(run2.status).toBe('FAILED');
    expect(existsSync(marker)).toBe(false);
    expect(await snapshot(source)).toEqual(live);
    await myQuery(source, "UPDATE customers SET name = 'Kunde 1 ✓' WHERE id = 1");
  });

  it('drills a good backup to VERIFIED and drops the throwaway database', async () => {
    const b = await backup();
    await api(t, 'POST', `/api/v1/backups/${b.id}/verify`, { body: { drill: true } });
    const v = await waitFor(async () => {
      const r = await api(t, 'GET', `/api/v1/backups/${b.id}`);
      return r.body.metadata?.drill ? r.body : undefined;
    }, 'drill');
    expect(v.status).toBe('VERIFIED');
    expect(v.metadata.drill).toMatchObject({ ok: true, tables: 2, rows: 150 + 600 });
    expect(await myQuery(undefined, `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'bm\\_%'`)).toHaveLength(0);
  });
});
