// @serial polls every child its service execs while dumps run; another suite's load would only hide what it looks for
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { signToken } from '../../src/auth/token-verifier.js';
import { Role } from '../../src/auth/roles.js';
import { dropQueueKeys, REDIS_URL, testEnv, waitFor } from '../support/app.js';
import { descendants, exeOf, freePort, startProcess, waitForHttp, type Proc } from '../support/processes.js';
import { createPgDatabase, dropPgDatabase, pgQuery, pgSnapshot } from '../support/pg.js';

/**
 * No encryption secret anywhere: the service runs as a real process (debug logs captured) with an
 * identity file and then a passphrase file; while it backs up, verifies, drills and restores,
 * every image each child execs is read (`/proc/<pid>/cmdline` and `environ`), and afterwards the
 * logs, the HTTP answers, the audit trail and every Redis key of the queue are searched for the
 * identity and the passphrase, in the forms they could leak in.
 */
const dir = mkdtempSync(join(tmpdir(), 'bm-enc-sec-'));
const keyFile = join(dir, 'id.key');
const keygen = spawnSync('age-keygen', ['-o', keyFile], { encoding: 'utf8' });
chmodSync(keyFile, 0o600);
const RECIPIENT = /Public key: (age1\S+)/.exec(keygen.stderr)![1];
const IDENTITY = /AGE-SECRET-KEY-1\S+/.exec(readFileSync(keyFile, 'utf8'))![0];
const PASSPHRASE = `pass ${randomBytes(9).toString('hex')} phrase ✓`;
const passFile = join(dir, 'pass');
writeFileSync(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
/** The secrets as they could appear: as is, lower-cased, JSON-escaped, base64, and a long slice of each. */
const FORMS = [IDENTITY, IDENTITY.toLowerCase(), IDENTITY.slice(20, 50), PASSPHRASE, JSON.stringify(PASSPHRASE).slice(1, -1), Buffer.from(PASSPHRASE).toString('base64'), PASSPHRASE.slice(5, 23)];
const leaks = (text: string) => FORMS.filter((f) => text.includes(f));

interface Sample {
  exe: string;
  cmd: string;
  env: string;
}

describe('encryption secrets stay out of children, logs, Redis, audit and answers', () => {
  let db: string;
  let base: Record<string, string>;
  let proc: Proc | undefined;
  let url = '';
  let token = '';
  const samples: Sample[] = [];
  const bodies: string[] = [];
  const logs: string[] = [];
  const extraDbs: string[] = [];
  let watching = true;
  let watcher: Promise<void> | undefined;

  async function start(keys: Record<string, string>): Promise<void> {
    if (proc) await stop();
    const port = await freePort();
    const env: Record<string, string> = { ...base, ...keys, PORT: String(port) };
    proc = startProcess('main', env);
    url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/health/live`, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${proc!.output()}`);
    });
    token = signToken(env.JWT_SECRET, { sub: 'sec', role: Role.Admin }, { expiresIn: '1h' });
    const root = proc.child.pid!;
    const serviceExe = exeOf(root);
    const seen = new Set<string>();
    watching = true;
    watcher = (async () => {
      while (watching) {
        for (const pid of descendants(root)) {
          const exe = exeOf(pid);
          if (!exe || exe === serviceExe || seen.has(`${pid} ${exe}`)) continue;
          try {
            const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
            const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
            if (!cmd) continue; // mid-exec: read again on the next pass
            seen.add(`${pid} ${exe}`);
            samples.push({ exe, cmd, env: environ });
          } catch {
            /* gone */
          }
        }
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
  }

  async function stop(): Promise<void> {
    watching = false;
    await watcher;
    if (proc && proc.child.exitCode === null) {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
    if (proc) logs.push(proc.output());
    proc = undefined;
  }

  async function call(method: string, path: string, body?: unknown): Promise<any> {
    const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  const waitBackup = (id: string, statuses: string[], pred: (b: any) => boolean = () => true) =>
    waitFor(async () => {
      const r = await call('GET', `/api/v1/backups/${id}`);
      return statuses.includes(r.body?.status) && pred(r.body) ? r.body : undefined;
    }, `backup ${id}`, 90_000);

  async function restore(id: string, database: string): Promise<any> {
    const r = await call('POST', `/api/v1/backups/${id}/restore`, { confirm: true, targetDatabase: database });
    expect(r.status).toBe(202);
    return waitFor(async () => {
      const run = await call('GET', `/api/v1/restores/${r.body.id}`);
      return ['COMPLETED', 'FAILED'].includes(run.body?.status) ? run.body : undefined;
    }, `restore ${r.body.id}`, 90_000);
  }

  /** A backup, its full verification (decrypting), a drill and a restore into a new database. */
  async function exercise(mode: 'x25519' | 'scrypt'): Promise<void> {
    const created = await call('POST', '/api/v1/backups', { target: 'app', encrypt: true });
    expect(created.status).toBe(202);
    const b = await waitBackup(created.body.id, ['VERIFIED', 'CORRUPTED']);
    expect(b.status).toBe('VERIFIED');
    expect(b.encryption.mode).toBe(mode);
    expect(b.metadata.verification.decrypted).toBe(true);
    expect((await call('POST', `/api/v1/backups/${b.id}/verify`, { drill: true })).status).toBe(202);
    await waitBackup(b.id, ['VERIFIED', 'CORRUPTED'], (x) => x.metadata?.verification?.kind === 'drill');
    const copy = `bmt_encsec_${randomBytes(4).toString('hex')}`;
    extraDbs.push(copy);
    const run = await restore(b.id, copy);
    expect(run.errorMessage).toBeNull();
    expect(await pgSnapshot(copy)).toEqual(await pgSnapshot(db));
    // A failing restore too: its error text is searched like the rest.
    const failed = await call('POST', `/api/v1/backups/${b.id}/restore`, { confirm: true, targetDatabase: 'postgres' });
    expect(failed.status).toBeGreaterThanOrEqual(400);
  }

  beforeAll(async () => {
    db = await createPgDatabase('encsec');
    await pgQuery(db, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g`);
    base = testEnv({ LOG_LEVEL: 'debug', BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}` });
  }, 60_000);

  afterAll(async () => {
    await stop();
    await dropQueueKeys(base.QUEUE_PREFIX);
    rmSync(base.DATA_DIR, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    for (const d of [db, ...extraDbs]) await dropPgDatabase(d);
  }, 60_000);

  it('recipients and an identity file: the age child sees only the public key', async () => {
    await start({ BACKUP_ENCRYPTION_RECIPIENTS: RECIPIENT, BACKUP_ENCRYPTION_IDENTITY_FILE: keyFile });
    await exercise('x25519');
    const ages = samples.filter((s) => s.exe.endsWith('/age'));
    expect(ages.length).toBeGreaterThan(0);
    for (const s of ages) expect(s.cmd).toMatch(new RegExp(`age -e -r ${RECIPIENT}$`));
  }, 180_000);

  it('a passphrase file (scrypt, made in-process)', async () => {
    await start({ BACKUP_ENCRYPTION_PASSPHRASE_FILE: passFile, BACKUP_ENCRYPTION_IDENTITY_FILE: keyFile });
    await exercise('scrypt');
    const overview = await call('GET', '/api/v1/encryption');
    expect(overview.body.recipients.map((r: any) => r.recipient).sort()).toEqual([RECIPIENT, 'passphrase'].sort());
  }, 180_000);

  it('no identity or passphrase in any child argv or environment, the logs, HTTP answers, audit events or Redis', async () => {
    const audit = await call('GET', '/api/v1/audit?limit=500');
    expect(audit.status).toBe(200);
    expect(audit.body.items.length).toBeGreaterThan(5);
    await stop();
    expect(samples.length).toBeGreaterThan(10);
    for (const s of samples) expect({ exe: s.exe, cmd: leaks(s.cmd), env: leaks(s.env) }).toEqual({ exe: s.exe, cmd: [], env: [] });
    const log = logs.join('\n');
    expect(log).toMatch(/backup completed/);
    expect(leaks(log)).toEqual([]);
    expect(leaks(bodies.join('\n'))).toEqual([]);

    const redis = new Redis(REDIS_URL);
    try {
      let cursor = '0';
      let keys = 0;
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${base.QUEUE_PREFIX}:*`, 'COUNT', 500);
        cursor = next;
        for (const key of batch) {
          keys++;
          const type = await redis.type(key);
          const value =
            type === 'string' ? await redis.get(key)
            : type === 'hash' ? JSON.stringify(await redis.hgetall(key))
            : type === 'list' ? JSON.stringify(await redis.lrange(key, 0, -1))
            : type === 'set' ? JSON.stringify(await redis.smembers(key))
            : type === 'zset' ? JSON.stringify(await redis.zrange(key, 0, -1))
            : type === 'stream' ? JSON.stringify(await redis.xrange(key, '-', '+'))
            : '';
          expect({ key, leaks: leaks(`${key} ${value}`) }).toEqual({ key, leaks: [] });
        }
      } while (cursor !== '0');
      expect(keys).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
