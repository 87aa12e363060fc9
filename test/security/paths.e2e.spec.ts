import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { api, waitForBackup, waitForSettled } from '../support/api.js';
import { startTestApp, waitFor, type TestApp } from '../support/app.js';
import { createMyDatabase, dropMyDatabase, myQuery, myUrl } from '../support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from '../support/pg.js';

/**
 * Path and name attacks: traversal, encoded traversal, absolute paths, NUL bytes and huge strings
 * in every path parameter of the OpenAPI document and in the query and body fields that name
 * targets, databases and tables; shell-looking names; symlinks planted in the storage root.
 * Each must get a 4xx, touch nothing outside the storage root and echo nothing from outside it.
 */
let t: TestApp;
let pgDb: string;
let myDb: string;
let outside: string; // a directory next to the storage root, holding files an attacker wants
let storage: string;
const SECRET = `OUTSIDE-SECRET-${randomBytes(6).toString('hex')}`;

const paramRoutes: Array<{ method: string; path: string }> = [];

function outsideState(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = lstatSync(p);
        out[p] = `${st.size}:${st.mtimeMs}:${readFileSync(p, 'utf8')}`;
      }
    }
  };
  walk(outside);
  return out;
}

beforeAll(async () => {
  pgDb = await createPgDatabase('secpath');
  await pgQuery(pgDb, `CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g`);
  myDb = await createMyDatabase('secpath');
  await myQuery(myDb, ['CREATE TABLE items (id int PRIMARY KEY, name text)', "INSERT INTO items VALUES (1, 'one'), (2, 'two')"]);
  t = await startTestApp({
    BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${pgDb}`,
    BACKUP_TARGET_SHOP_URL: myUrl(myDb),
    AUTH_FAILURE_LIMIT: '0',
  });
  storage = t.config.options.storageDir;
  outside = join(t.dataDir, `outside-${randomBytes(3).toString('hex')}`);
  mkdirSync(join(outside, 'app'), { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), `${SECRET}\n`);
  writeFileSync(join(outside, 'passwd'), `root:x:0:0:${SECRET}\n`);
  const doc = (await (await fetch(`${t.url}/docs-json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.includes('{')) continue;
    for (const method of Object.keys(ops)) if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) paramRoutes.push({ method: method.toUpperCase(), path });
  }
}, 60_000);

afterAll(async () => {
  await t?.close();
  await dropPgDatabase(pgDb);
  await dropMyDatabase(myDb);
});

/** What an attacker puts in a path segment, already URL-encoded as it goes on the wire. */
const SEGMENTS: Array<[string, () => string]> = [
  ['../ encoded', () => encodeURIComponent('../../../etc/passwd')],
  ['%2e%2e%2f', () => '%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd'],
  ['double-encoded %252e%252e%252f', () => '%252e%252e%252f%252e%252e%252fetc%252fpasswd'],
  ['..\\ (backslashes)', () => encodeURIComponent('..\\..\\secret.txt')],
  ['absolute path', () => encodeURIComponent('/etc/passwd')],
  ['absolute path outside the root', () => encodeURIComponent(join(outside, 'secret.txt'))],
  ['a NUL byte', () => 'abc%00def'],
  ['a valid-looking UUID then NUL', () => '00000000-0000-4000-8000-000000000000%00.txt'],
  ['.. alone', () => '%2e%2e'],
  ['5000 characters', () => 'a'.repeat(5000)],
  ['unicode dots and slashes', () => encodeURIComponent('\u2025\u2215\uFF0E\uFF0E\u2215etc')],
];

function bodyFor(method: string, path: string): unknown {
  if (method === 'GET' || method === 'DELETE') return undefined;
  if (path.endsWith('/restore')) return { confirm: true };
  return {};
}

describe('path parameters of every route', () => {
  it('found routes with parameters in the OpenAPI document', () => {
    expect(paramRoutes.length).toBeGreaterThanOrEqual(10);
  });

  it.each(SEGMENTS)('%s → 4xx on every route, nothing from outside echoed, nothing outside touched', async (_name, seg) => {
    const before = outsideState();
    const wrong: string[] = [];
    for (const r of paramRoutes) {
      const url = r.path.replace(/\{[^}]+\}/g, seg());
      const res = await api(t, r.method, url, { body: bodyFor(r.method, r.path) });
      if (res.status < 400 || res.status >= 500) wrong.push(`${r.method} ${r.path} → ${res.status} ${res.text.slice(0, 120)}`);
      if (res.text.includes(SECRET) || /root:x:0:0/.test(res.text)) wrong.push(`${r.method} ${r.path} leaked a file`);
    }
    expect(wrong).toEqual([]);
    expect(outsideState()).toEqual(before);
  });

  it('a URL too long for the server gets 414/431, and the service keeps answering', async () => {
    const res = await fetch(`${t.url}/api/v1/backups/${'a'.repeat(70_000)}`, { headers: { authorization: `Bearer ${t.token('viewer')}` } });
    expect([414, 431]).toContain(res.status);
    expect((await api(t, 'GET', '/api/v1/backups')).status).toBe(200);
  });
});

const NAMES = [
  '../app',
  '..%2f..%2fetc',
  '/etc/passwd',
  'app\u0000',
  'a;id',
  '$(id)',
  '`id`',
  'a\nb',
  '--file=/tmp/x',
  '-Fd',
  'app app',
  'x'.repeat(10_000),
];

describe('names in query and body fields', () => {
  it.each(NAMES.map((n) => [JSON.stringify(n).slice(0, 40), n]))('target %s → 400 on create backup, schedule, retention, filters', async (_label, name) => {
    const before = outsideState();
    const calls: Array<[string, string, unknown?]> = [
      ['POST', '/api/v1/backups', { target: name }],
      ['POST', '/api/v1/schedules', { name: 'evil', target: name, cron: '0 2 * * *' }],
      ['POST', '/api/v1/retention/cleanup', { target: name, dryRun: true }],
      ['GET', `/api/v1/backups?target=${encodeURIComponent(name)}`],
      ['GET', `/api/v1/backups/stats?target=${encodeURIComponent(name)}`],
    ];
    for (const [method, path, body] of calls) {
      const res = await api(t, method, path, { body });
      expect({ method, path: path.slice(0, 40), status: res.status }).toEqual({ method, path: path.slice(0, 40), status: 400 });
      expect(res.text).not.toContain(SECRET);
    }
    // filters of other lists may answer an empty page, never a 5xx and never a file
    for (const path of [`/api/v1/restores?target=${encodeURIComponent(name)}`, `/api/v1/audit?resource=${encodeURIComponent(name)}`]) {
      const res = await api(t, 'GET', path);
      expect(res.status === 400 || (res.status === 200 && res.body.items.length === 0)).toBe(true);
    }
    expect((await api(t, 'GET', `/api/v1/targets/${encodeURIComponent(name)}/tables`)).status).toBeGreaterThanOrEqual(400);
    expect(outsideState()).toEqual(before);
  });

  it.each(NAMES.map((n) => [JSON.stringify(n).slice(0, 40), n]))('table %s on both engines → 400 naming the table problem, no file written', async (_label, name) => {
    for (const target of ['app', 'shop']) {
      const res = await api(t, 'POST', '/api/v1/backups', { body: { target, scope: 'selective', tables: [name] } });
      expect({ target, status: res.status }).toEqual({ target, status: 400 });
      expect(res.text).toMatch(/table/i);
    }
    expect(existsSync('/tmp/x')).toBe(false);
  });

  it.each(NAMES.map((n) => [JSON.stringify(n).slice(0, 40), n]))('restore targetDatabase %s → 400', async (_label, name) => {
    const res = await api(t, 'POST', `/api/v1/backups/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/restore`, { body: { confirm: true, targetDatabase: name } });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/targetDatabase/);
  });
});

/**
 * A backup whose verification is over: the tests below swap its artifact or its directory for a
 * symlink, which a verification still reading the file would race (it could record VERIFIED after
 * the test's own verification recorded CORRUPTED).
 */
async function backup(target: string): Promise<any> {
  const res = await api(t, 'POST', '/api/v1/backups', { body: { target } });
  expect(res.status).toBe(202);
  const rec = await waitForSettled(t, res.body.id);
  expect({ status: rec.status, error: rec.errorMessage }).toEqual({ status: 'VERIFIED', error: null });
  return rec;
}

/** Three days ago, in whole seconds: fixed for the run, so priming twice leaves the same mtime. */
const PAST = Math.floor(Date.now() / 1000) - 3 * 86400;

/** Makes `file`'s atime older than its mtime, so any read of it (under relatime) moves atime. */
function primeAtime(file: string): number {
  utimesSync(file, PAST, PAST + 3600);
  return statSync(file).atimeMs;
}

describe('symlinks planted in the storage root', () => {
  it('an artifact replaced by a symlink to a file outside: not shown, not downloaded, not verified or restored from, and delete removes only the link', async () => {
    const rec = await backup('app');
    const artifact = join(storage, ...rec.fileKey.split('/'));
    const victim = join(outside, 'secret.txt');
    unlinkSync(artifact);
    symlinkSync(victim, artifact);
    // control: a read of the victim moves its atime on this filesystem
    const primed = primeAtime(victim);
    readFileSync(victim);
    const atimeWorks = statSync(victim).atimeMs !== primed;
    const before = outsideState(); // reads every file: prime atime after it
    const atime = primeAtime(victim);

    const shown = await api(t, 'GET', `/api/v1/backups/${rec.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body.fileExists).toBe(false);

    const dl = await fetch(`${t.url}/api/v1/backups/${rec.id}/download`, { headers: { authorization: `Bearer ${t.token('viewer')}` } });
    const dlText = await dl.text();
    expect(dl.status).toBeGreaterThanOrEqual(400);
    expect(dl.status).toBeLessThan(500);
    expect(dlText).not.toContain(SECRET);

    const verify = await api(t, 'POST', `/api/v1/backups/${rec.id}/verify`, { body: {} });
    expect(verify.status).toBe(202);
    const verified = await waitFor(async () => {
      const r = await api(t, 'GET', `/api/v1/backups/${rec.id}`);
      return r.body?.status === 'CORRUPTED' && r.body;
    }, 'verification to mark the backup CORRUPTED', 30_000);
    expect(verified.errorMessage).toMatch(/missing/i);
    expect(JSON.stringify(verified)).not.toContain(SECRET);

    const restoreDb = `bmt_secr_${randomBytes(3).toString('hex')}`;
    const restore = await api(t, 'POST', `/api/v1/backups/${rec.id}/restore`, { body: { confirm: true, targetDatabase: restoreDb, safetyBackup: false } });
    if (restore.status === 202) {
      const run = await waitFor(async () => {
        const r = await api(t, 'GET', `/api/v1/restores/${restore.body.id}`);
        return !['QUEUED', 'RUNNING'].includes(r.body?.status) && r.body;
      }, 'restore run to finish');
      expect(run.status).toBe('FAILED');
    } else {
      expect(restore.status).toBeGreaterThanOrEqual(400);
      expect(restore.status).toBeLessThan(500);
    }
    await dropPgDatabase(restoreDb);

    const del = await api(t, 'DELETE', `/api/v1/backups/${rec.id}?hard=true`);
    expect(del.status).toBe(200);
    expect(existsSync(artifact)).toBe(false); // the link went
    if (atimeWorks) expect(statSync(victim).atimeMs).toBe(atime); // the victim was never read
    expect(outsideState()).toEqual(before); // nor removed or changed
  }, 120_000);

  it("a target's directory replaced by a symlink to a directory outside: no download, no delete through it, no new artifact written into it", async () => {
    const rec = await backup('app');
    const dir = join(storage, 'app');
    const fileName = rec.fileKey.split('/').pop();
    // the attacker moves the real directory out and links to it: every file name still matches
    renameSync(dir, join(outside, 'app-moved'));
    symlinkSync(join(outside, 'app-moved'), dir);
    const before = outsideState();
    expect(Object.keys(before).some((p) => p.endsWith(fileName))).toBe(true);

    const dl = await fetch(`${t.url}/api/v1/backups/${rec.id}/download`, { headers: { authorization: `Bearer ${t.token('viewer')}` } });
    await dl.arrayBuffer();
    expect(dl.status).toBeGreaterThanOrEqual(400);
    expect(dl.status).toBeLessThan(500);

    const del = await api(t, 'DELETE', `/api/v1/backups/${rec.id}?hard=true`);
    expect(del.status).toBeLessThan(500);
    expect(outsideState()).toEqual(before); // nothing removed through the link

    const next = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    expect(next.status).toBe(202);
    const done = await waitForBackup(t, next.body.id);
    expect(done.status).toBe('FAILED');
    expect(done.errorMessage).toMatch(/symlink/i);
    expect(outsideState()).toEqual(before); // nothing written through the link

    // the operator removes the link: backups work again
    unlinkSync(dir);
    await backup('app');
  }, 120_000);

  it('a symlinked storage root file listing (retention, stats) never follows links out', async () => {
    symlinkSync(outside, join(storage, 'evil-link'));
    const before = outsideState();
    const dry = await api(t, 'POST', '/api/v1/retention/cleanup', { body: { dryRun: true } });
    expect(dry.status).toBeLessThan(500);
    expect(dry.text).not.toContain(SECRET);
    expect(dry.text).not.toContain('secret.txt');
    const real = await api(t, 'POST', '/api/v1/retention/cleanup', { body: {} });
    expect(real.status).toBeLessThan(500);
    expect(outsideState()).toEqual(before);
    rmSync(join(storage, 'evil-link'));
    expect(existsSync(dirname(join(outside, 'secret.txt')))).toBe(true);
  }, 60_000);
});
