// @serial polls every child its service execs while dumps run; another suite's load would only hide what it looks for
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { signToken } from '../../src/auth/token-verifier.js';
import { Role } from '../../src/auth/roles.js';
import { dropQueueKeys, REDIS_URL, testEnv, waitFor } from '../support/app.js';
import { descendants, exeOf, freePort, pollFor, ROOT, waitForHttp } from '../support/processes.js';
import { createMyDatabase, dropMyDatabase, MY, myConnect, myIdent, myQuery } from '../support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgClient, pgQuery } from '../support/pg.js';

/**
 * Secrets: the service runs as a real process (under umask 000, through test/support/umask-zero.mjs)
 * with targets whose passwords hold `:`, `\`, `"`, `#`, `'`, spaces and unicode, given by file and
 * percent-encoded in the URL. While dumps run, no child's argv or environment holds a password;
 * after failures, neither logs, HTTP bodies, audit events nor any Redis key of the queue does.
 * Artifacts and manifests are 0600 and directories 0700 whatever the umask.
 */
const tag = randomBytes(3).toString('hex');
const PASSWORD = `p:a\\s"s#w 'ö ✓ 密码 ${tag}`;
const WRONG = `wr:o\\ng"#pw ✗ ${tag}x`;
const PG_ROLE = `bmt_sec_${tag}`;
const MY_USER = `bmt_sec_${tag}`;
const FORMS = (p: string) => [p, encodeURIComponent(p), JSON.stringify(p).slice(1, -1), Buffer.from(p).toString('base64')];

let pgDb: string;
let myDb: string;
let env: Record<string, string>;
let child: ChildProcess;
let out = '';
let url: string;
let token: string;
let pwFile: string;
let secretsDir: string;
let serviceExe: string;

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

async function waitDone(id: string): Promise<any> {
  return waitFor(async () => {
    const r = await call('GET', `/api/v1/backups/${id}`);
    return !['QUEUED', 'RUNNING'].includes(r.body?.status) && r.body;
  }, `backup ${id}`, 90_000);
}

interface Sample {
  pid: number;
  exe: string;
  cmd: string;
  env: string;
}

/**
 * Watches every descendant of the service and records argv and environment of each image each
 * child execs (setpriv, then pg_dump or zstd), told apart by `/proc/<pid>/exe`. A child caught
 * between fork and exec still runs the service's own executable and shows the service's own
 * environment (which holds the target URLs by design); that is not what a dump client sees, so
 * such a child is read again on the next pass, once it has exec'd.
 */
class ChildWatch {
  readonly samples: Sample[] = [];
  private readonly keys = new Set<string>();
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly root: number,
    private readonly serviceExe: string,
  ) {
    this.loop = this.run();
  }

  /** Resolves with the first sample `pred` accepts (polling every 10 ms up to `timeoutMs`). */
  until(pred: (s: Sample) => boolean, what: string, timeoutMs = 30_000): Promise<Sample> {
    return pollFor(() => this.samples.find(pred), what, timeoutMs).catch((err: Error) => {
      const seen = this.samples.map((s) => `${s.pid} ${s.exe}: ${s.cmd.slice(0, 100)}`).join('\n  ');
      throw new Error(`${err.message}; children seen:\n  ${seen || 'none'}\nservice log (tail):\n${out.slice(-6000)}`);
    });
  }

  async stop(): Promise<Sample[]> {
    this.stopped = true;
    await this.loop;
    return this.samples;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      for (const pid of descendants(this.root)) {
        const exe = exeOf(pid);
        if (!exe || exe === this.serviceExe || this.keys.has(`${pid} ${exe}`)) continue;
        try {
          const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
          const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
          // NOTE: in the midst of exec (new executable, argument and environment areas not set up
          // yet) and while exiting, both read empty: read that image again on the next pass.
          if (!cmd) continue;
          this.keys.add(`${pid} ${exe}`);
          this.samples.push({ pid, exe, cmd, env });
        } catch {
          /* exited */
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

const exeName = (s: Sample) => s.exe.replace(/^.*\//, '');

function expectNoPassword(samples: Sample[]): void {
  for (const { exe, cmd, env: e } of samples) {
    for (const form of FORMS(PASSWORD)) {
      expect({ exe, argvHoldsPassword: cmd.includes(form), envHoldsPassword: e.includes(form) }).toEqual({ exe, argvHoldsPassword: false, envHoldsPassword: false });
    }
    expect(e).not.toMatch(/PGPASSWORD=|MYSQL_PWD=/);
  }
}

beforeAll(async () => {
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  pgDb = await createPgDatabase('secret');
  await pgQuery('postgres', `CREATE ROLE ${PG_ROLE} LOGIN PASSWORD ${lit(PASSWORD)}`);
  await pgQuery('postgres', `ALTER DATABASE ${pgDb} OWNER TO ${PG_ROLE}`);
  const c = pgClient(pgDb, PG_ROLE);
  await c.connect();
  await c.query(`CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 2000) g`);
  await c.end();

  myDb = await createMyDatabase('secret');
  for (const host of ['127.0.0.1', 'localhost']) {
    await myQuery(undefined, `CREATE USER '${MY_USER}'@'${host}' IDENTIFIED BY ?`, [PASSWORD]);
    await myQuery(undefined, `GRANT ALL ON ${myIdent(myDb)}.* TO '${MY_USER}'@'${host}'`);
  }
  await myQuery(myDb, ['CREATE TABLE items (id int PRIMARY KEY, name text)', "INSERT INTO items VALUES (1, 'one'), (2, 'two')"]);

  secretsDir = mkdtempSync(join(tmpdir(), 'bm-secret-'));
  pwFile = join(secretsDir, 'pw');
  writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  const enc = encodeURIComponent;
  const port = await freePort();
  env = testEnv({
    PORT: String(port),
    LOG_LEVEL: 'debug',
    AUTH_FAILURE_LIMIT: '0',
    DUMP_LOCK_WAIT_TIMEOUT_MS: '20000',
    JOB_ATTEMPTS: '2',
    BACKUP_TARGET_PGF_URL: `postgres://${PG_ROLE}@127.0.0.1:5432/${pgDb}`,
    BACKUP_TARGET_PGF_PASSWORD_FILE: pwFile,
    BACKUP_TARGET_PGU_URL: `postgres://${PG_ROLE}:${enc(PASSWORD)}@127.0.0.1:5432/${pgDb}`,
    BACKUP_TARGET_MYF_URL: `mysql://${MY_USER}@${MY.host}:${MY.port}/${myDb}`,
    BACKUP_TARGET_MYF_PASSWORD_FILE: pwFile,
    BACKUP_TARGET_MYU_URL: `mysql://${MY_USER}:${enc(PASSWORD)}@${MY.host}:${MY.port}/${myDb}`,
    BACKUP_TARGET_MYBAD_URL: `mysql://${MY_USER}:${enc(WRONG)}@${MY.host}:${MY.port}/${myDb}`,
    BACKUP_TARGET_PGBAD_URL: `postgres://${PG_ROLE}:${enc(WRONG)}@127.0.0.1:1/${pgDb}`,
  });
  child = spawn(process.execPath, [join(ROOT, 'test', 'support', 'umask-zero.mjs'), join(ROOT, 'dist', 'src', 'main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health/live`).catch((err) => {
    throw new Error(`${err.message}\n${out}`);
  });
  token = signToken(env.JWT_SECRET, { sub: 'sec', role: Role.Admin }, { expiresIn: '1h' });
  serviceExe = exeOf(child.pid!);
  expect(serviceExe).not.toBe('');
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  await dropQueueKeys(env.QUEUE_PREFIX);
  rmSync(env.DATA_DIR, { recursive: true, force: true });
  rmSync(secretsDir, { recursive: true, force: true });
  await dropPgDatabase(pgDb);
  await pgQuery('postgres', `DROP ROLE IF EXISTS ${PG_ROLE}`);
  await dropMyDatabase(myDb);
  for (const host of ['127.0.0.1', 'localhost']) await myQuery(undefined, `DROP USER IF EXISTS '${MY_USER}'@'${host}'`);
}, 60_000);

const ok: Record<string, any> = {};

describe('passwords with : \\ " # \' spaces and unicode', () => {
  it('the MariaDB user really needs that password (control)', async () => {
    const conn = await mysql.createConnection({ host: MY.host, port: MY.port, user: MY_USER, password: PASSWORD, database: myDb });
    await conn.end();
    await expect(mysql.createConnection({ host: MY.host, port: MY.port, user: MY_USER, password: WRONG, database: myDb })).rejects.toThrow(/Access denied/);
  });

  it('PostgreSQL dumps while a lock holds them: no password in any child argv or environment; PGPASSFILE is 0600 and holds the exact password', async () => {
    for (const target of ['pgf', 'pgu']) {
      const locker = pgClient(pgDb);
      await locker.connect();
      await locker.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
      const watch = new ChildWatch(child.pid!, serviceExe);
      try {
        const res = await call('POST', '/api/v1/backups', { target, format: 'plain' });
        expect(res.status).toBe(202);
        // The lock holds pg_dump: it is seen (by its executable) with its credential file in place,
        // and its session is seen waiting on the lock, before the lock is let go.
        // (`pg_dump --version` runs without connection settings, hence the PGPASSFILE condition.)
        const dump = await watch.until((s) => exeName(s) === 'pg_dump' && /(^|\0)PGPASSFILE=/.test(s.env), `pg_dump of ${target} to start`);
        await watch.until((s) => exeName(s) === 'zstd', `zstd of ${target} to start`);
        const file = /(?:^|\0)PGPASSFILE=([^\0]+)/.exec(dump.env)![1];
        const pgpass = { mode: statSync(file).mode & 0o777, text: readFileSync(file, 'utf8') };
        await waitFor(
          async () => (await pgQuery('postgres', `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'backup-manager' AND wait_event_type = 'Lock'`, [pgDb])).length > 0,
          `pg_dump of ${target} to wait on the lock`,
          30_000,
          20,
        );
        await locker.query('COMMIT');
        ok[target] = await waitDone(res.body.id);
        expect(ok[target].status).toMatch(/COMPLETED|VERIFIED/);
        const samples = await watch.stop();
        expect(samples.map(exeName)).toEqual(expect.arrayContaining(['pg_dump', 'zstd']));
        expectNoPassword(samples);
        expect(pgpass.mode).toBe(0o600);
        // libpq's .pgpass escaping: \: and \\ ; the fifth field is the password
        const fields = pgpass.text.trimEnd().match(/(?:\\.|[^:\\])+|(?<=:)(?=:|$)/g)!.map((f) => f.replace(/\\(.)/g, '$1'));
        expect(fields[4]).toBe(PASSWORD);
      } finally {
        await watch.stop();
        await locker.end().catch(() => undefined);
      }
    }
  }, 120_000);

  it('MariaDB dumps with the password from a file and from the URL: they log in (wrong escaping would be refused), no password in any child argv or environment', async () => {
    for (const target of ['myf', 'myu']) {
      // LOCK TABLES ... WRITE holds the dump client on its SELECT, so it is seen for sure.
      const locker = await myConnect(myDb);
      await locker.query('LOCK TABLES items WRITE');
      const watch = new ChildWatch(child.pid!, serviceExe);
      try {
        const res = await call('POST', '/api/v1/backups', { target });
        expect(res.status).toBe(202);
        await watch.until((s) => /^(mariadb-dump|mysqldump)$/.test(exeName(s)), `the dump client of ${target} to start`);
        await watch.until((s) => exeName(s) === 'zstd', `zstd of ${target} to start`);
        await waitFor(
          async () => (await myQuery(undefined, `SELECT 1 FROM information_schema.PROCESSLIST WHERE USER = ? AND DB = ? AND STATE LIKE 'Waiting for%lock%'`, [MY_USER, myDb])).length > 0,
          `the dump of ${target} to wait on the lock`,
          30_000,
          20,
        );
        await locker.query('UNLOCK TABLES');
        ok[target] = await waitDone(res.body.id);
        expect({ target, status: ok[target].status, error: ok[target].errorMessage }).toMatchObject({ target, status: expect.stringMatching(/COMPLETED|VERIFIED/) });
        const samples = await watch.stop();
        expect(samples.map(exeName)).toEqual(expect.arrayContaining([expect.stringMatching(/^(mariadb-dump|mysqldump)$/), 'zstd']));
        expectNoPassword(samples);
      } finally {
        await watch.stop();
        await locker.end().catch(() => undefined);
      }
    }
  }, 120_000);
});

describe('after failures, the password is nowhere', () => {
  const failed: any[] = [];

  it('a wrong MariaDB password and an unreachable PostgreSQL fail with clear messages', async () => {
    for (const target of ['mybad', 'pgbad']) {
      const res = await call('POST', '/api/v1/backups', { target });
      expect(res.status).toBe(202);
      failed.push(await waitDone(res.body.id));
    }
    expect(failed.map((f) => f.status)).toEqual(['FAILED', 'FAILED']);
    expect(failed[0].errorMessage).toMatch(/access denied|password|authentication/i);
    expect(failed[1].errorMessage).toMatch(/connect|refused|reach/i);
    // and the tables route, which connects in the request, answers 503 without it
    for (const target of ['mybad', 'pgbad']) {
      const r = await call('GET', `/api/v1/targets/${target}/tables`);
      expect(r.status).toBe(503);
      for (const form of [...FORMS(WRONG), ...FORMS(PASSWORD)]) expect(r.text.includes(form)).toBe(false);
    }
  }, 120_000);

  it('not in HTTP bodies, audit events, logs, or any Redis key of the queue (job data, failedReason, stacktrace)', async () => {
    const bodies: string[] = [];
    for (const path of ['/api/v1/backups?limit=100', '/api/v1/targets', '/api/v1/audit?limit=200', '/api/v1/restores', '/api/v1/backups/stats']) {
      const r = await call('GET', path);
      expect(r.status).toBe(200);
      bodies.push(r.text);
    }
    for (const rec of [...failed, ...Object.values(ok)]) bodies.push((await call('GET', `/api/v1/backups/${rec.id}`)).text);
    const audit = JSON.parse(bodies[2]);
    expect(audit.items.length).toBeGreaterThan(0);

    const redis = new Redis(REDIS_URL);
    const values: string[] = [];
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${env.QUEUE_PREFIX}:*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const type = await redis.type(key);
          values.push(key);
          if (type === 'string') values.push((await redis.get(key)) ?? '');
          else if (type === 'hash') values.push(JSON.stringify(await redis.hgetall(key)));
          else if (type === 'list') values.push(JSON.stringify(await redis.lrange(key, 0, -1)));
          else if (type === 'set') values.push(JSON.stringify(await redis.smembers(key)));
          else if (type === 'zset') values.push(JSON.stringify(await redis.zrange(key, 0, -1)));
          else if (type === 'stream') values.push(JSON.stringify(await redis.xrange(key, '-', '+')));
        }
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    const redisText = values.join('\n');
    expect(redisText).toMatch(/failedReason/); // the failed jobs are there to search
    const logs = out;
    expect(logs.length).toBeGreaterThan(1000);
    const leaks: string[] = [];
    for (const [where, text] of [['http', bodies.join('\n')], ['redis', redisText], ['logs', logs]] as const) {
      for (const form of [...FORMS(PASSWORD), ...FORMS(WRONG)]) if (text.includes(form)) leaks.push(`${where}: ${form}`);
    }
    expect(leaks).toEqual([]);
  }, 60_000);
});

describe('umask 000', () => {
  it('artifacts and manifests are 0600, directories 0700, under the storage root and the temp dir', () => {
    const wrong: string[] = [];
    let files = 0;
    const walk = (dir: string) => {
      const st = statSync(dir);
      if ((st.mode & 0o777) !== 0o700) wrong.push(`${dir} ${(st.mode & 0o777).toString(8)}`);
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else {
          files++;
          const mode = statSync(p).mode & 0o777;
          if (mode !== 0o600) wrong.push(`${p} ${mode.toString(8)}`);
        }
      }
    };
    walk(join(env.DATA_DIR, 'backups'));
    walk(join(env.DATA_DIR, 'tmp'));
    expect(files).toBeGreaterThanOrEqual(8); // 4 artifacts + 4 manifests
    expect(wrong).toEqual([]);
    // the service really ran under umask 000
    expect(readFileSync(`/proc/${child.pid}/status`, 'utf8')).toMatch(/^Umask:\s+0000$/m);
  });
});
