import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { openCatalog } from '../src/catalog/catalog.js';
import { freePort } from './support/processes.js';

/**
 * A MySQL-family catalog on a server with binary logging on, which refuses triggers to a user
 * without SUPER unless `log_bin_trust_function_creators` is set. The machine's MariaDB runs
 * without a binary log (and is shared), so this file starts a server of its own.
 */
const bin = (name: string) => ['/usr/sbin', '/usr/bin', '/usr/local/bin'].map((d) => join(d, name)).find((p) => existsSync(p));
const installDb = bin('mariadb-install-db');
const mariadbd = bin('mariadbd');

(installDb && mariadbd ? describe : describe.skip)('catalog migrations on a MariaDB with binary logging', () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let port: number;
  const password = randomBytes(9).toString('hex');
  const root = () => mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bm-binlog-'));
    const data = join(dir, 'data');
    const install = spawnSync(installDb!, ['--no-defaults', `--datadir=${data}`, '--user=root', '--auth-root-authentication-method=normal'], { encoding: 'utf8' });
    if (install.status !== 0) throw new Error(`mariadb-install-db: ${install.stderr}`);
    port = await freePort();
    server = spawn(
      mariadbd!,
      ['--no-defaults', `--datadir=${data}`, '--user=root', `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(dir, 'sock')}`, `--log-bin=${join(data, 'binlog')}`, '--server-id=1', '--innodb-buffer-pool-size=16M', '--skip-name-resolve'],
      { stdio: 'ignore' },
    );
    for (let tries = 0; !(await root().then((c) => c.end().then(() => true), () => false)); tries++) {
      if (tries > 300 || server.exitCode !== null) throw new Error('the MariaDB server did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    const c = await root();
    await c.query('CREATE DATABASE cat');
    await c.query(`CREATE USER 'bm'@'%' IDENTIFIED BY '${password}'`);
    await c.query(`GRANT ALL ON cat.* TO 'bm'@'%'`);
    expect((await c.query('SELECT @@log_bin AS b, @@log_bin_trust_function_creators AS t'))[0]).toEqual([{ b: 1, t: 0 }]);
    await c.end();
  }, 90_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const gone = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await gone;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stops at the first trigger with what to set, then carries on once it is set', async () => {
    const url = `mysql://bm:${password}@127.0.0.1:${port}/cat`;
    const err = await openCatalog({ url, sqlitePath: '', migrationsRun: true }).then(
      (ds) => ds.destroy().then(() => undefined),
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/BackupCounts1796320000000 creates triggers/);
    expect(err?.message).toMatch(/SET GLOBAL log_bin_trust_function_creators = 1/);
    expect(err?.message).not.toContain(password);

    const c = await root();
    await c.query('SET GLOBAL log_bin_trust_function_creators = 1');
    await c.end();
    const ds = await openCatalog({ url, sqlitePath: '', migrationsRun: true });
    try {
      const triggers = (await ds.query('SHOW TRIGGERS')).map((t: { Trigger: string }) => t.Trigger).sort();
      // The counts' triggers were made, then dropped with their table (DropBackupCounts1796420000000).
      expect(triggers).toEqual(['delete', 'insert', 'update'].map((op) => `bm_trg_backup_totals_${op}`));
      await ds.getRepository('BackupRecord').insert({ id: '11111111-1111-4111-8111-111111111111', type: 'daily', status: 'VERIFIED', target: 't', engine: 'postgres', compression: 'zstd', triggeredBy: 'test', sizeBytes: 5 });
      expect(await ds.getRepository('BackupTotal').find()).toEqual([expect.objectContaining({ target: 't', type: 'daily', status: 'VERIFIED', n: 1, sizeBytes: 5 })]);
    } finally {
      await ds.destroy();
    }
  }, 120_000);
});
