import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mysqlOptionFile } from '../src/engines/mysql/connection.js';
import { mysqlDumpArgs } from '../src/engines/mysql/mysql.engine.js';
import { api, downloadBytes, waitForBackup } from './support/api.js';
import { startTestApp, type TestApp } from './support/app.js';
import { decompress } from './support/codec.js';
import { createMyDatabase, dropMyDatabase, mariadbLoad, myConnect, myObjects, myQuery, myRows, myUrl } from './support/mysql.js';

/**
 * The fixture: several tables, a view, a trigger, a procedure, a function and an event;
 * utf8mb4 with emoji, binary, JSON, DATETIME with fractions, AUTO_INCREMENTs past their rows.
 */
async function fillFixture(db: string): Promise<void> {
  const c = await myConnect(db);
  try {
    for (const sql of [
      `CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(200) NOT NULL, name_upper VARCHAR(200),
         email VARCHAR(200) UNIQUE, created_at DATETIME(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(12,2), meta JSON,
         note TEXT, placed_at DATETIME(3), FOREIGN KEY (customer_id) REFERENCES customers(id)) ENGINE=InnoDB AUTO_INCREMENT=1000`,
      `CREATE TABLE blobs (id INT PRIMARY KEY, data VARBINARY(64), big LONGBLOB) ENGINE=InnoDB`,
      'CREATE TABLE `Odd Table` (`weird col` TEXT, `ünïcode` TEXT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
      `CREATE TABLE counters (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB`,
      `CREATE VIEW big_orders AS SELECT o.id, c.name, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.total > 100`,
      `CREATE TRIGGER customers_bi BEFORE INSERT ON customers FOR EACH ROW SET NEW.name_upper = UPPER(NEW.name)`,
      `CREATE PROCEDURE add_customer(IN n VARCHAR(200)) BEGIN INSERT INTO customers (name, created_at) VALUES (n, NOW(6)); END`,
      `CREATE FUNCTION order_total(cid INT) RETURNS DECIMAL(14,2) READS SQL DATA RETURN (SELECT COALESCE(SUM(total), 0) FROM orders WHERE customer_id = cid)`,
      `CREATE EVENT nightly_noop ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM counters WHERE id < 0`,
    ]) await c.query(sql);
    const customers = Array.from({ length: 300 }, (_, i) => [`Kunde ${i + 1} – 日本語 🚀 '"\\`, `c${i + 1}@example.com`, `2024-02-29 13:45:${String(i % 60).padStart(2, '0')}.${String(123456 + i)}`]);
    await c.query('INSERT INTO customers (name, email, created_at) VALUES ?', [customers]);
    const orders = Array.from({ length: 2000 }, (_, i) => [
      1 + (i % 300),
      ((i + 1) * 7.31).toFixed(2),
      JSON.stringify({ g: i, tags: ['a', 'ß', '✓', '😀'], nested: { q: "it's \"quoted\"" } }),
      "line1\nline2\ttab 'quote' \\ backslash",
      `2023-12-31 23:59:59.${String(i % 1000).padStart(3, '0')}`,
    ]);
    await c.query('INSERT INTO orders (customer_id, total, meta, note, placed_at) VALUES ?', [orders]);
    const blobs = Array.from({ length: 50 }, (_, i) => [i + 1, Buffer.from([0, 0x27, 0x5c, 0x22, 0x0a, 0x1a, 0xff, i]), randomBytes(2048 + i)]);
    await c.query('INSERT INTO blobs (id, data, big) VALUES ?', [blobs]);
    await c.query("INSERT INTO `Odd Table` VALUES ('a;b', 'Ωmega'), (NULL, ''), ('🙂', '--result-file=/tmp/x')");
    await c.query('INSERT INTO counters (v) VALUES (1), (2), (3), (4), (5)');
    await c.query('DELETE FROM counters WHERE id > 2');
    await c.query("CALL add_customer('via procedure')");
  } finally {
    await c.end();
  }
}

describe('MySQL/MariaDB backups through the queue', () => {
  let t: TestApp;
  let source: string;
  const dbs: string[] = [];
  const user = `bmt_u_${randomBytes(3).toString('hex')}`;
  const password = `p@ss"w'o#rd\\ x:;${randomBytes(4).toString('hex')}`;
  const passwordFile = join(tmpdir(), `bm-mysql-pw-${randomBytes(4).toString('hex')}`);

  beforeAll(async () => {
    source = await createMyDatabase('my');
    dbs.push(source);
    await fillFixture(source);
    await myQuery(undefined, [`CREATE USER '${user}'@'%' IDENTIFIED BY ?`], [password]);
    // The least a backup user needs: table, view, trigger and event reads, and routine bodies.
    await myQuery(undefined, `GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT ON \`${source}\`.* TO '${user}'@'%'`);
    await myQuery(undefined, `GRANT SELECT ON mysql.proc TO '${user}'@'%'`);
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    chmodSync(passwordFile, 0o600);
    t = await startTestApp({
      BACKUP_TARGET_SHOP_URL: myUrl(source),
      BACKUP_TARGET_LIMITED_URL: `mysql://${user}@127.0.0.1:3306/${source}`,
      BACKUP_TARGET_LIMITED_PASSWORD_FILE: passwordFile,
      BACKUP_TARGET_WRONG_URL: `mysql://${user}:S3cr3t-P%40ss@127.0.0.1:3306/${source}`,
      BACKUP_TARGET_NODB_URL: myUrl('bm_no_such_db_here'),
    });
  });

  afterAll(async () => {
    await t?.close();
    for (const db of dbs) await dropMyDatabase(db);
    await myQuery(undefined, `DROP USER IF EXISTS '${user}'@'%'`).catch(() => undefined);
    rmSync(passwordFile, { force: true });
  });

  async function backup(body: Record<string, unknown>) {
    const created = await api(t, 'POST', '/api/v1/backups', { body, token: t.token('operator') });
    expect(created.status).toBe(202);
    return waitForBackup(t, created.body.id);
  }

  async function restoreInto(done: any, tag: string): Promise<string> {
    const dl = await downloadBytes(t, done.id);
    expect(dl.status).toBe(200);
    expect(createHash('sha256').update(dl.bytes).digest('hex')).toBe(done.checksum);
    const copy = await createMyDatabase(tag);
    dbs.push(copy);
    await mariadbLoad(copy, decompress(dl.bytes, done.compression));
    return copy;
  }

  it.each(['zstd', 'gzip'])('backs up with %s and restores the same rows, routines, trigger, view, event and AUTO_INCREMENTs', async (compression) => {
    const done = await backup({ target: 'shop', compression });
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    expect(done.engine).toBe('mysql');
    expect(done.format).toBe('plain');
    expect(done.scope).toBe('full');
    expect(done.tableCount).toBe(5);
    expect(done.fileKey).toMatch(/^shop\/shop_manual_\d{8}T\d{6}Z_[0-9a-f]{8}\.sql\.(zst|gz)$/);
    expect(done.metadata.clientVersion).toMatch(/(mariadb-dump|mysqldump)\s+Ver/);
    // Exact rows of every base table, counted beside the dump (for drills).
    const tables = await myQuery(undefined, `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'`, [source]);
    const counts: Record<string, number> = {};
    for (const { t: name } of tables) counts[name] = Number((await myQuery(source, `SELECT COUNT(*) AS n FROM \`${name}\``))[0].n);
    expect(done.metadata.tableRows).toEqual(counts);
    expect(done.metadata.tableRowsSource).toBe('database-at-dump-start');

    const copy = await restoreInto(done, 'myrestore');
    expect(await myRows(copy)).toEqual(await myRows(source));
    const [before, after] = [await myObjects(source), await myObjects(copy)];
    expect(after).toEqual(before);
    expect(after.views).toEqual(['big_orders']);
    expect(after.triggers.map((x: any) => x.name)).toEqual(['customers_bi']);
    expect(after.routines.map((x: any) => `${x.type} ${x.name}`)).toEqual(['PROCEDURE add_customer', 'FUNCTION order_total']);
    expect(after.events).toEqual(['nightly_noop']);
    expect(after.autoIncrement).toMatchObject({ counters: 6, orders: 1000 + 2000 });

    // The restored objects work: the trigger fires, the function answers, AUTO_INCREMENT continues.
    await myQuery(copy, "CALL add_customer('after restore 🎉')");
    const [row] = await myQuery(copy, "SELECT id, name_upper FROM customers WHERE name = 'after restore 🎉'");
    expect(row.name_upper).toBe('AFTER RESTORE 🎉');
    expect(Number(row.id)).toBe(302);
    const [fn] = await myQuery(copy, 'SELECT order_total(1) AS v');
    expect(fn.v).toBe((await myQuery(source, 'SELECT order_total(1) AS v'))[0].v);
    await myQuery(copy, 'INSERT INTO counters (v) VALUES (9)');
    expect((await myQuery(copy, 'SELECT MAX(id) AS m FROM counters'))[0].m).toBe(6);
  });

  it('writes a manifest naming the engine, client and scope', async () => {
    const done = await backup({ target: 'shop', compression: 'none' });
    const manifest = JSON.parse(readFileSync(join(t.config.options.storageDir, `${done.fileKey}.manifest.json`), 'utf8'));
    expect(manifest).toMatchObject({ engine: 'mysql', scope: 'full', includeSchema: true, includeData: true, format: 'plain', tables: null, database: source });
    expect(manifest.clientVersion).toMatch(/(mariadb-dump|mysqldump)\s+Ver/);
    const sql = readFileSync(join(t.config.options.storageDir, done.fileKey), 'utf8');
    // No CREATE DATABASE / USE: the dump loads into whatever database the restore names.
    expect(sql).not.toMatch(/^CREATE DATABASE/m);
    expect(sql).not.toMatch(/^USE /m);
  });

  it('connects as a least-privilege user whose password file holds quotes, #, backslash and spaces', async () => {
    const done = await backup({ target: 'limited' });
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    expect(done.tableCount).toBe(5);
    expect(JSON.stringify(done)).not.toContain(password);
  });

  it('fails a wrong password once, without retrying and without the password in the message', async () => {
    const done = await backup({ target: 'wrong' });
    expect(done.status).toBe('FAILED');
    expect(done.attempts).toBe(1);
    expect(done.errorMessage).toMatch(/Access denied for user/);
    expect(JSON.stringify(done)).not.toContain('S3cr3t');
  });

  it('fails an unknown database once, saying so', async () => {
    const done = await backup({ target: 'nodb' });
    expect(done.status).toBe('FAILED');
    expect(done.attempts).toBe(1);
    expect(done.errorMessage).toMatch(/Unknown database/i);
  });

  it('refuses the PostgreSQL-only custom format for a MySQL target', async () => {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'shop', format: 'custom' } });
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('format "custom" is for PostgreSQL targets');
  });

  it('lists the tables with row estimates and sizes', async () => {
    await myQuery(source, 'ANALYZE TABLE orders, customers');
    const r = await api(t, 'GET', '/api/v1/targets/shop/tables', { token: t.token('viewer') });
    expect(r.status).toBe(200);
    expect(r.body.target).toBe('shop');
    expect(r.body.engine).toBe('mysql');
    expect(r.body.tables.map((x: any) => x.name)).toEqual(['blobs', 'counters', 'customers', 'Odd Table', 'orders']);
    const orders = r.body.tables.find((x: any) => x.name === 'orders');
    expect(orders.rowEstimate).toBeGreaterThan(1000);
    expect(orders.sizeBytes).toBeGreaterThan(0);
    const bad = await api(t, 'GET', '/api/v1/targets/wrong/tables');
    expect(bad.status).toBe(503);
    expect(bad.text).not.toContain('S3cr3t');
  });

  it('keeps the password off argv: the option file comes first and holds it quoted', () => {
    const args = mysqlDumpArgs('/tmp/x/client.cnf', 'db', { scope: 'selective', tables: ['--result-file=/tmp/x', 'a b'], includeSchema: true, includeData: true, format: 'plain' }, 'mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB');
    expect(args[0]).toBe('--defaults-extra-file=/tmp/x/client.cnf');
    expect(args.slice(args.indexOf('--'))).toEqual(['--', 'db', '--result-file=/tmp/x', 'a b']);
    expect(args.join(' ')).not.toMatch(/password/i);
    expect(mysqlOptionFile({ host: 'h', port: 1, user: 'u', password: 'a"b\\c #d' })).toContain('password="a\\"b\\\\c #d"');
  });
});
