import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { dropQueueKeys, testEnv, waitFor } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { runCli as cli, startProcess, type Proc } from './support/processes.js';

const artifacts = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => !f.endsWith('.json')).sort() : []);

/** A backup's status and error as the catalog holds them (the worker process writes them). */
function catalogStatus(dataDir: string, id: string): { status: string; errorMessage: string | null } | undefined {
  const catalog = new Database(join(dataDir, 'catalog.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return catalog.prepare('SELECT status, errorMessage FROM bm_backup_records WHERE id = ?').get(id) as { status: string; errorMessage: string | null } | undefined;
  } finally {
    catalog.close();
  }
}

describe('backup-manager CLI against a running stack', () => {
  let db: string;
  let env: Record<string, string>;
  let worker: Proc;

  beforeAll(async () => {
    db = await createPgDatabase('cli');
    await pgQuery(db, `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g;`);
    env = testEnv({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      BACKUP_TARGET_BROKEN_URL: 'postgres://postgres@127.0.0.1:5432/bm_no_such_database_cli',
      JOB_ATTEMPTS: '1',
    });
    worker = startProcess('worker', { ...env, LOG_LEVEL: 'warn' });
    await new Promise((r) => setTimeout(r, 1500));
  }, 60_000);

  afterAll(async () => {
    worker?.child.kill('SIGTERM');
    if (worker) await Promise.race([worker.exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await dropQueueKeys(env.QUEUE_PREFIX);
    await dropPgDatabase(db);
    rmSync(env.DATA_DIR, { recursive: true, force: true });
  }, 30_000);

  let firstId: string;

  it('backup create --wait --json exits 0 once COMPLETED and prints the record as JSON', async () => {
    const r = await cli(['backup', 'create', '--target', 'app', '--wait', '--json', '--description', 'nightly by cron'], env);
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
    const rec = JSON.parse(r.stdout);
    expect(rec).toMatchObject({ target: 'app', triggeredBy: 'cli', description: 'nightly by cron', attempts: 1 });
    expect(['COMPLETED', 'VERIFIED']).toContain(rec.status);
    expect(existsSync(join(env.DATA_DIR, 'backups', rec.fileKey))).toBe(true);
    // Progress went to stderr as plain lines (no TTY), never into the JSON.
    expect(r.stderr).toMatch(new RegExp(`backup ${rec.id} (COMPLETED|VERIFIED)`));
    firstId = rec.id;
  }, 120_000);

  it('backup create without --wait enqueues and returns at once; backup list --json shows both', async () => {
    const r = await cli(['backup', 'create', '-t', 'app', '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ target: 'app', triggeredBy: 'cli' }); // QUEUED, or already picked up by the worker
    const list = await cli(['backup', 'list', '--json'], env);
    expect(list.code).toBe(0);
    const page = JSON.parse(list.stdout);
    const id = JSON.parse(r.stdout).id as string;
    expect(page.items.map((i: { id: string }) => i.id)).toEqual(expect.arrayContaining([firstId, id]));
    // The worker goes on with it after the CLI returned: the next tests compare the storage
    // directory before and after, so this backup must have written its artifact and been verified.
    const settled = await waitFor(async () => {
      const rec = catalogStatus(env.DATA_DIR, id);
      return rec && !['QUEUED', 'RUNNING', 'COMPLETED'].includes(rec.status) ? rec : undefined;
    }, `backup ${id} to be verified`, 90_000);
    expect(settled).toEqual({ status: 'VERIFIED', errorMessage: null });
  }, 120_000);

  it('cleanup --dry-run deletes nothing', async () => {
    const dir = join(env.DATA_DIR, 'backups', 'app');
    const before = { files: artifacts(dir), total: JSON.parse((await cli(['backup', 'list', '--json'], env)).stdout).total };
    const r = await cli(['cleanup', '--dry-run', '--json'], env);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.dryRun).toBe(true);
    expect(Array.isArray(result.deleted)).toBe(true);
    const after = { files: artifacts(dir), total: JSON.parse((await cli(['backup', 'list', '--json'], env)).stdout).total };
    expect(after).toEqual(before);
  }, 60_000);

  it('a failing backup exits non-zero with the reason on stderr', async () => {
    const r = await cli(['backup', 'create', '--target', 'broken', '--wait'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/backup-manager: backup [0-9a-f-]{36} FAILED: .*bm_no_such_database_cli/);
  }, 120_000);

  it('refuses bad requests with distinct exit codes and the reason on stderr', async () => {
    const unknown = await cli(['backup', 'create', '--target', 'nope'], env);
    expect(unknown.code).toBe(65);
    expect(unknown.stderr).toMatch(/Unknown target "nope"/);
    const noConfirm = await cli(['restore', firstId], env);
    expect(noConfirm.code).toBe(64);
    expect(noConfirm.stderr).toMatch(/--confirm is required/);
    const usage = await cli(['backup', 'create'], env);
    expect(usage.code).toBe(64);
    expect(usage.stderr).toMatch(/--target/);
  }, 60_000);

  it('--inline runs a backup in-process with Redis unreachable; without it the CLI says Redis is down', async () => {
    const offline = { ...env, REDIS_URL: 'redis://127.0.0.1:1' };
    const queued = await cli(['backup', 'create', '--target', 'app', '--wait'], offline);
    expect(queued.code).toBe(69);
    expect(queued.stderr).toMatch(/Redis at redis:\/\/127\.0\.0\.1:1 is unreachable; start it, or run with --inline/);
    const r = await cli(['backup', 'create', '--target', 'app', '--inline', '--json'], offline);
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
    const rec = JSON.parse(r.stdout);
    expect(rec).toMatchObject({ target: 'app', triggeredBy: 'cli', attempts: 1, errorMessage: null });
    expect(['COMPLETED', 'VERIFIED']).toContain(rec.status);
    expect(rec.sizeBytes).toBeGreaterThan(0);
    expect(existsSync(join(env.DATA_DIR, 'backups', rec.fileKey))).toBe(true);
    // The catalog record is the same one the service sees.
    const list = JSON.parse((await cli(['backup', 'list', '--json'], offline)).stdout);
    expect(list.items.find((i: { id: string }) => i.id === rec.id)).toMatchObject({ status: rec.status, checksum: rec.checksum });
  }, 120_000);

  it('verify exits 0 for a good backup; token prints a JWT for the API', async () => {
    const v = await cli(['backup', 'verify', firstId, '--json'], env);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, backupId: firstId, status: 'VERIFIED' });
    const t = await cli(['token', '--role', 'admin', '--sub', 'alice'], env);
    expect(t.code).toBe(0);
    expect(jwt.verify(t.stdout.trim(), env.JWT_SECRET)).toMatchObject({ sub: 'alice', role: 'admin' });
    // A token the API would refuse is not printed at all.
    const long = await cli(['token', '--role', 'admin', '--sub', 'alice', '--expires', '7d'], env);
    expect({ code: long.code, stdout: long.stdout }).toEqual({ code: 64, stdout: '' });
    expect(long.stderr).toMatch(/--expires 7d: .* more than|longer than the maximum token lifetime of 24 h/);
  }, 60_000);

  it('takes the 8-character id a progress line shows; refuses an ambiguous, unknown or malformed one', async () => {
    const short = firstId.slice(0, 8);
    const v = await cli(['backup', 'verify', short, '--json'], env);
    expect({ code: v.code, stderr: v.code === 0 ? '' : v.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, backupId: firstId });
    // A second record whose id starts the same way makes the short id ambiguous.
    const twin = `${short}-0000-4000-8000-000000000000`;
    expect(twin).not.toBe(firstId);
    const catalog = new Database(join(env.DATA_DIR, 'catalog.sqlite'));
    try {
      const columns = (catalog.prepare('PRAGMA table_info(bm_backup_records)').all() as Array<{ name: string }>).map((c) => `"${c.name}"`);
      const copy = columns.map((c) => (c === '"id"' ? '?' : c)).join(', ');
      catalog.prepare(`INSERT INTO bm_backup_records (${columns.join(', ')}) SELECT ${copy} FROM bm_backup_records WHERE id = ?`).run(twin, firstId);
      const amb = await cli(['restore', short, '--confirm', '--no-wait'], env);
      expect(amb.code).toBe(64);
      expect(amb.stderr).toContain(`backup-manager: ${short} is ambiguous: it starts 2 backup ids (`);
      expect(amb.stderr).toContain(firstId);
      expect(amb.stderr).toMatch(/give more characters of the id\n$/);
    } finally {
      catalog.prepare('DELETE FROM bm_backup_records WHERE id = ?').run(twin);
      catalog.close();
    }
    const none = await cli(['backup', 'verify', short === 'ffff0000' ? 'eeee0000' : 'ffff0000'], env);
    expect(none.code).toBe(65);
    expect(none.stderr).toMatch(/^backup-manager: no backup id starts with (ffff|eeee)0000; `backup list` shows the ids\n$/);
    const bad = await cli(['restore', 'latest', '--confirm'], env);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/^backup-manager: "latest" is not a backup id: give the id, or at least its first 4 characters/);
  }, 120_000);

  it('every argument error exits 64, starts with backup-manager: and says how to fix it', async () => {
    const offline = { ...env, REDIS_URL: 'redis://127.0.0.1:1' };
    const cases: Array<[string[], RegExp]> = [
      [['backup', 'list', '--limit', '-5'], /--limit must be a whole number from 1 to 200/],
      [['backup', 'list', '--limit', '500'], /--limit must be a whole number from 1 to 200/],
      [['backup', 'list', '--bogus'], /unknown option '--bogus'/],
      [['backup', 'create'], /required option '-t, --target <name>' not specified/],
      [['backup', 'create', '-t', 'app', '--type', 'hourly'], /Allowed choices are manual, daily, weekly, monthly/],
      [['backup', 'nope'], /unknown command 'nope'/],
      [['restore'], /missing required argument 'backup-id'/],
    ];
    for (const [args, reason] of cases) {
      const r = await cli(args, offline);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 64, stdout: '' });
      expect(r.stderr).toMatch(/^backup-manager: [^\n]+ \(see `backup-manager [a-z ]*--help`\)\n$/);
      expect(r.stderr).toMatch(reason);
    }
  }, 60_000);

  it('backup create takes what the API takes: --tables, --schema-only, --format, --retention-days; bad values exit 64/65', async () => {
    await pgQuery(db, `CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'kept out of the selective backup');`);
    const offline = { ...env, REDIS_URL: 'redis://127.0.0.1:1' };
    const r = await cli(['backup', 'create', '-t', 'app', '--tables', 'items', '--schema-only', '--format', 'plain', '--retention-days', '3', '--inline', '--json'], offline);
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
    const rec = JSON.parse(r.stdout);
    expect(rec).toMatchObject({ scope: 'selective', tables: ['items'], includeSchema: true, includeData: false, format: 'plain', retentionDays: 3 });
    const days = (new Date(rec.expiresAt).getTime() - new Date(rec.createdAt).getTime()) / 86_400_000;
    expect(days).toBeGreaterThan(2.99);
    expect(days).toBeLessThan(3.01);
    const sql = execFileSync('zstd', ['-dc', join(env.DATA_DIR, 'backups', rec.fileKey)], { encoding: 'utf8' });
    expect(sql).toMatch(/CREATE TABLE public\.items/);
    expect(sql).not.toMatch(/notes/);
    expect(sql).not.toMatch(/COPY public\.items/);

    const unknown = await cli(['backup', 'create', '-t', 'app', '--tables', 'items,ghosts', '--inline'], offline);
    expect(unknown.code).toBe(65);
    expect(unknown.stderr).toMatch(/ghosts/);
    const both = await cli(['backup', 'create', '-t', 'app', '--schema-only', '--data-only'], offline);
    expect(both.code).toBe(64);
    expect(both.stderr).toMatch(/--schema-only and --data-only exclude each other/);
    const days0 = await cli(['backup', 'create', '-t', 'app', '--retention-days', '0'], offline);
    expect(days0.code).toBe(64);
    expect(days0.stderr).toMatch(/--retention-days must be a whole number of days from 1 to 36500/);
    const scope = await cli(['backup', 'create', '-t', 'app', '--scope', 'everything'], offline);
    expect(scope.code).toBe(64);
    expect(scope.stderr).toMatch(/argument 'everything' is invalid\. Allowed choices are full, partial, selective\./);
    const status = await cli(['backup', 'list', '--status', 'DONE'], offline);
    expect(status.code).toBe(64);
    expect(status.stderr).toMatch(/Allowed choices are QUEUED, RUNNING/);
  }, 120_000);
});
