import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpApp } from '../src/app.factory.js';
import { signToken } from '../src/auth/token-verifier.js';
import { Role } from '../src/auth/roles.js';
import { loadConfig } from '../src/config/env.js';
import { api, downloadBytes, waitForBackup } from './support/api.js';
import { dropQueueKeys, testEnv, waitFor, type TestApp } from './support/app.js';
import { createMyDatabase, dropMyDatabase, MY, myQuery, myRows } from './support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgQuery, pgSnapshot, PG } from './support/pg.js';

/**
 * Encryption at rest (age v1), end to end on both engines, with the stock `age` and `age-keygen`:
 * a worker with only recipients backs up but cannot restore; identities open what they were
 * made for; tampering is CORRUPTED and never restored; keys rotate. The service runs in this
 * process, restarted between phases with other keys on the same catalog, storage and queue.
 */
const keysDir = mkdtempSync(join(tmpdir(), 'bm-age-keys-'));

function keygen(name: string): { file: string; recipient: string } {
  const file = join(keysDir, name);
  const r = spawnSync('age-keygen', ['-o', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`age-keygen: ${r.stderr}`);
  chmodSync(file, 0o600);
  return { file, recipient: /Public key: (age1\S+)/.exec(r.stderr)![1] };
}

/** `age -d -i key < file | zstd -d | <client>`: what a user runs without this project. */
function stockPipeline(cipher: Buffer, key: string, client: [string, string[]]): Promise<void> {
  return new Promise((resolve, reject) => {
    const age = spawn('age', ['-d', '-i', key], { stdio: ['pipe', 'pipe', 'pipe'] });
    const zstd = spawn('zstd', ['-d', '-q', '-c'], { stdio: [age.stdout, 'pipe', 'pipe'] });
    const load = spawn(client[0], client[1], { stdio: [zstd.stdout, 'ignore', 'pipe'] });
    let err = '';
    for (const p of [age, zstd, load]) p.stderr!.on('data', (d) => (err += d));
    let left = 3;
    const done = (code: number | null) => {
      if (code !== 0) reject(new Error(`pipeline failed (${code}): ${err}`));
      else if (--left === 0) resolve();
    };
    // 'exit', not 'close': the pipes handed on to the next process are never read here.
    for (const p of [age, zstd, load]) p.on('exit', done);
    age.stdin!.end(cipher);
  });
}

describe('encryption at rest (age)', () => {
  const A = keygen('a.key');
  const B = keygen('b.key');
  const both = join(keysDir, 'ab.key');
  writeFileSync(both, readFileSync(A.file, 'utf8') + readFileSync(B.file, 'utf8'), { mode: 0o600 });
  let pgDb: string;
  let myDb: string;
  let base: Record<string, string>;
  let t: TestApp;
  const extraDbs: string[] = [];
  const backups: Record<string, any> = {};

  /** The service on the shared data with these keys (the previous one stopped first). */
  async function restart(keys: Record<string, string>): Promise<void> {
    if (t) await t.app.close();
    const env = { ...base, ...keys };
    const config = loadConfig(env);
    const app = await createHttpApp(config);
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };
    t = {
      app,
      config,
      env,
      dataDir: env.DATA_DIR,
      url: `http://127.0.0.1:${port}`,
      token: (role = Role.Admin, sub = 'tester') => signToken(config.options.auth.jwtSecret, { sub, role: role as Role }, { expiresIn: '1h' }),
      close: async () => undefined,
    };
  }

  async function backup(target: string, body: Record<string, unknown> = {}): Promise<any> {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target, ...body } });
    expect(r.status).toBe(202);
    const done = await waitForBackup(t, r.body.id);
    expect(done.errorMessage).toBeNull();
    return waitStatus(done.id, ['VERIFIED', 'CORRUPTED']);
  }

  const waitStatus = (id: string, statuses: string[]) =>
    waitFor(async () => {
      const r = await api(t, 'GET', `/api/v1/backups/${id}`);
      return statuses.includes(r.body?.status) ? r.body : undefined;
    }, `backup ${id} to reach ${statuses.join('/')}`);

  async function restore(id: string, body: Record<string, unknown> = {}): Promise<any> {
    const r = await api(t, 'POST', `/api/v1/backups/${id}/restore`, { body: { confirm: true, ...body } });
    expect(r.status).toBe(202);
    return waitFor(async () => {
      const run = await api(t, 'GET', `/api/v1/restores/${r.body.id}`);
      return ['COMPLETED', 'FAILED'].includes(run.body?.status) ? run.body : undefined;
    }, `restore ${r.body.id}`, 120_000);
  }

  const artifact = (b: any) => join(t.config.options.storageDir, b.fileKey);
  const newPg = async (tag: string) => {
    const db = await createPgDatabase(tag);
    extraDbs.push(db);
    return db;
  };
  /** A database name nobody uses yet: a restore creates it. */
  const newPgName = (tag: string) => {
    const db = `bmt_${tag}_${Math.random().toString(16).slice(2, 10)}`;
    extraDbs.push(db);
    return db;
  };

  beforeAll(async () => {
    pgDb = await createPgDatabase('enc');
    await pgQuery(pgDb, `CREATE TABLE customers (id serial PRIMARY KEY, name text, secret text);
      INSERT INTO customers (name, secret) SELECT 'Kunde ' || g, md5(g::text) FROM generate_series(1, 3000) g;
      CREATE TABLE "Odd Table" (v text); INSERT INTO "Odd Table" VALUES ('ä'), (NULL);`);
    myDb = await createMyDatabase('enc');
    await myQuery(myDb, ['CREATE TABLE items (id int PRIMARY KEY, name varchar(100))', "INSERT INTO items VALUES (1, 'eins'), (2, 'zwei ✓'), (3, NULL)"]);
    base = testEnv({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${pgDb}`,
      BACKUP_TARGET_SHOP_URL: `mysql://root@${MY.host}:${MY.port}/${myDb}`,
      BACKUP_PG_FORMAT: 'custom',
    });
  });

  afterAll(async () => {
    await t?.app.close();
    await dropQueueKeys(base.QUEUE_PREFIX);
    rmSync(base.DATA_DIR, { recursive: true, force: true });
    rmSync(keysDir, { recursive: true, force: true });
    await dropPgDatabase(pgDb);
    await dropMyDatabase(myDb);
    for (const db of extraDbs) await dropPgDatabase(db);
  });

  describe('a worker with only the recipient A', () => {
    beforeAll(() => restart({ BACKUP_ENCRYPTION_RECIPIENTS: A.recipient }));

    it('backs up both engines encrypted to A; basic verification passes on the ciphertext without a key; the manifest names A and holds no key', async () => {
      for (const [target, key] of [['app', 'pg'], ['shop', 'my']] as const) {
        const b = await backup(target);
        expect(b.status).toBe('VERIFIED');
        expect(b.encrypted).toBe(true);
        expect(b.encryption).toEqual({ format: 'age-encryption.org/v1', mode: 'x25519', recipients: [A.recipient] });
        expect(b.fileKey).toMatch(/\.zst\.age$/);
        expect(b.metadata.verification).toMatchObject({ kind: 'basic', ok: true, decrypted: false });
        const file = readFileSync(artifact(b));
        expect(file.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
        expect(b.sizeBytes).toBe(file.length);
        const manifest = readFileSync(`${artifact(b)}.manifest.json`, 'utf8');
        expect(JSON.parse(manifest).encryption).toEqual(b.encryption);
        expect(manifest).not.toMatch(/AGE-SECRET-KEY/);
        backups[key] = b;
      }
    });

    it('the artifacts open with the stock age and the identity from age-keygen: zstd -d | pg_restore and | mariadb give the same data', async () => {
      const pgCopy = await newPg('stock');
      const dl = await downloadBytes(t, backups.pg.id);
      expect(dl.status).toBe(200);
      await stockPipeline(dl.bytes, A.file, ['pg_restore', ['-h', PG.host, '-U', PG.user, '-d', pgCopy, '--no-owner']]);
      expect(await pgSnapshot(pgCopy)).toEqual(await pgSnapshot(pgDb));

      const myCopy = await createMyDatabase('stock');
      try {
        await stockPipeline(readFileSync(artifact(backups.my)), A.file, ['mariadb', ['-h', MY.host, '-P', String(MY.port), '-u', MY.user, '--default-character-set=utf8mb4', myCopy]]);
        expect(await myRows(myCopy)).toEqual(await myRows(myDb));
      } finally {
        await dropMyDatabase(myCopy);
      }
      // And not with B's.
      const wrong = spawnSync('age', ['-d', '-i', B.file, artifact(backups.pg)]);
      expect(wrong.status).not.toBe(0);
      expect(wrong.stderr.toString()).toMatch(/no identity matched/);
    });

    it('a restore fails naming the identity it needs, before anything changes (no safety backup, the target as it was)', async () => {
      await pgQuery(pgDb, `UPDATE customers SET name = 'live' WHERE id = 1`);
      const live = await pgSnapshot(pgDb);
      const total = (await api(t, 'GET', '/api/v1/backups?limit=100')).body.total;
      const run = await restore(backups.pg.id);
      expect(run.status).toBe('FAILED');
      expect(run.errorMessage).toContain(`needs the identity for recipient ${A.recipient}`);
      expect(run.errorMessage).toMatch(/BACKUP_ENCRYPTION_IDENTITY_FILE/);
      expect(run.safetyBackupId).toBeNull();
      expect(await pgSnapshot(pgDb)).toEqual(live);
      expect((await api(t, 'GET', '/api/v1/backups?limit=100')).body.total).toBe(total);
    });

    it('a drill cannot run here: it says which identity it needs and leaves the backup VERIFIED', async () => {
      expect((await api(t, 'POST', `/api/v1/backups/${backups.my.id}/verify`, { body: { drill: true } })).status).toBe(202);
      const b = await waitFor(async () => {
        const r = await api(t, 'GET', `/api/v1/backups/${backups.my.id}`);
        return r.body.metadata?.verification?.kind === 'drill' ? r.body : undefined;
      }, 'the drill to be recorded');
      expect(b.status).toBe('VERIFIED');
      expect(b.metadata.verification).toMatchObject({ ok: false, inconclusive: true });
      expect(b.metadata.verification.reason).toContain(`needs the identity for recipient ${A.recipient}`);
    });

    it('encrypt: false per request and per schedule', async () => {
      const plain = await backup('app', { encrypt: false });
      expect(plain.encrypted).toBe(false);
      expect(plain.encryption).toBeNull();
      expect(plain.fileKey).not.toMatch(/\.age$/);
      const s = await api(t, 'POST', '/api/v1/schedules', { body: { name: `enc-off`, target: 'app', preset: 'daily', encrypt: false } });
      expect(s.status).toBe(201);
      expect(s.body.encrypt).toBe(false);
      const run = await api(t, 'POST', `/api/v1/schedules/${s.body.id}/run`, { body: {} });
      expect([200, 202]).toContain(run.status);
      const id = run.body.backupId ?? run.body.id;
      const b = await waitForBackup(t, id);
      expect(b.encrypted).toBe(false);
      expect((await api(t, 'DELETE', `/api/v1/schedules/${s.body.id}`)).status).toBeLessThan(300);
    });
  });

  describe('rotation: a worker with only B', () => {
    beforeAll(() => restart({ BACKUP_ENCRYPTION_RECIPIENTS: B.recipient, BACKUP_ENCRYPTION_IDENTITY_FILE: B.file }));

    it('new backups go to B and restore here; the A backups fail with "no identity matches" naming A, the target unchanged', async () => {
      const b = await backup('app');
      expect(b.encryption.recipients).toEqual([B.recipient]);
      backups.pgB = b;
      const copy = newPgName('rot');
      const ok = await restore(b.id, { targetDatabase: copy });
      expect(ok.errorMessage).toBeNull();
      expect(ok.status).toBe('COMPLETED');
      expect(await pgSnapshot(copy)).toEqual(await pgSnapshot(pgDb));

      const live = await pgSnapshot(pgDb);
      const run = await restore(backups.pg.id);
      expect(run.status).toBe('FAILED');
      expect(run.errorMessage).toMatch(/^no identity matches: /);
      expect(run.errorMessage).toContain(`needs the identity for recipient ${A.recipient}`);
      expect(run.errorMessage).not.toMatch(/AGE-SECRET-KEY/);
      expect(await pgSnapshot(pgDb)).toEqual(live);
    });

    it('GET /encryption lists the recipients in use, which backups each opens, and which identities this process holds (public keys only)', async () => {
      const r = await api(t, 'GET', '/api/v1/encryption', { token: t.token('viewer') });
      expect(r.status).toBe(200);
      expect(r.text).not.toMatch(/AGE-SECRET-KEY/);
      expect(r.body.encryptsTo).toEqual({ mode: 'x25519', recipients: [B.recipient] });
      expect(r.body.identities).toEqual([B.recipient]);
      const byKey = Object.fromEntries(r.body.recipients.map((x: any) => [x.recipient, x]));
      expect(byKey[A.recipient].backupIds).toEqual(expect.arrayContaining([backups.pg.id, backups.my.id]));
      expect(byKey[A.recipient].backupIds).not.toContain(backups.pgB.id);
      expect(byKey[A.recipient].identityHere).toBe(false);
      expect(byKey[B.recipient]).toMatchObject({ identityHere: true, backupIds: [backups.pgB.id] });
    });
  });

  describe('a worker with both identities', () => {
    beforeAll(() => restart({ BACKUP_ENCRYPTION_RECIPIENTS: B.recipient, BACKUP_ENCRYPTION_IDENTITY_FILE: both }));

    it('restores the A and the B backups of both engines in place; a full verification decrypts and a drill passes', async () => {
      // The A backup was taken before id 1 became 'live', the B backup after.
      await pgQuery(pgDb, `UPDATE customers SET name = 'Kunde 1' WHERE id = 1`);
      const atA = await pgSnapshot(pgDb);
      await pgQuery(pgDb, `DELETE FROM customers WHERE id > 100`);
      const run = await restore(backups.pg.id);
      expect(run.errorMessage).toBeNull();
      expect(run.status).toBe('COMPLETED');
      expect(await pgSnapshot(pgDb)).toEqual(atA);

      const myWant = await myRows(myDb);
      await myQuery(myDb, 'DELETE FROM items');
      const myRun = await restore(backups.my.id);
      expect(myRun.errorMessage).toBeNull();
      expect(await myRows(myDb)).toEqual(myWant);

      expect((await restore(backups.pgB.id)).status).toBe('COMPLETED');
      expect((await pgQuery(pgDb, 'SELECT name FROM customers WHERE id = 1'))[0].name).toBe('live');
      expect((await pgQuery(pgDb, 'SELECT count(*)::int AS n FROM customers'))[0].n).toBe(3000);

      for (const drill of [false, true]) {
        expect((await api(t, 'POST', `/api/v1/backups/${backups.pg.id}/verify`, { body: { drill } })).status).toBe(202);
        const v = await waitFor(async () => {
          const r = await api(t, 'GET', `/api/v1/backups/${backups.pg.id}`);
          const ver = r.body.metadata?.verification;
          return ver?.kind === (drill ? 'drill' : 'basic') && ver.decrypted === true ? r.body : undefined;
        }, `the ${drill ? 'drill' : 'full verification'}`);
        expect(v.status).toBe('VERIFIED');
        expect(v.metadata.verification.ok).toBe(true);
      }
    });

    it('tampering: a flipped ciphertext byte, a truncated file and a swapped header are CORRUPTED, and restores refuse them before the target changes', async () => {
      const live = await pgSnapshot(pgDb);
      const cases: Array<[string, (bytes: Buffer, other: Buffer) => Buffer, RegExp]> = [
        ['flipped byte', (b) => {
          const x = Buffer.from(b);
          x[Math.floor(x.length / 2)] ^= 0x20;
          return x;
        }, /checksum mismatch/],
        ['truncated', (b) => b.subarray(0, b.length - 1000), /truncated/],
        ['swapped header', (b, other) => Buffer.concat([other.subarray(0, other.indexOf('\n---') + 48), b.subarray(b.indexOf('\n---') + 48)]), /checksum mismatch/],
      ];
      for (const [what, tamper, reason] of cases) {
        const b = await backup('app');
        const other = await backup('app');
        const bytes = tamper(readFileSync(artifact(b)), readFileSync(artifact(other)));
        writeFileSync(artifact(b), bytes);
        // Asked while the record still says VERIFIED: the restore's own checks must refuse it.
        const run = await restore(b.id, { safetyBackup: false });
        expect({ what, status: run.status }).toEqual({ what, status: 'FAILED' });
        expect(await pgSnapshot(pgDb)).toEqual(live);
        expect((await api(t, 'POST', `/api/v1/backups/${b.id}/verify`, { body: {} })).status).toBe(202);
        const v = await waitStatus(b.id, ['CORRUPTED']);
        expect({ what, reason: v.errorMessage }).toEqual({ what, reason: expect.stringMatching(reason) });
        const forced = await restore(b.id, { force: true, safetyBackup: false });
        expect(forced.status).toBe('FAILED');
        expect(await pgSnapshot(pgDb)).toEqual(live);
      }
    });

    it('a flipped byte with a matching catalog checksum is still refused by age itself; nothing restored', async () => {
      const live = await pgSnapshot(pgDb);
      const b = await backup('app');
      const bytes = Buffer.from(readFileSync(artifact(b)));
      bytes[bytes.length - 20] ^= 1;
      writeFileSync(artifact(b), bytes);
      const { createHash } = await import('node:crypto');
      const Database = (await import('better-sqlite3')).default;
      const db = new Database(join(base.DATA_DIR, 'catalog.sqlite'));
      db.prepare('UPDATE bm_backup_records SET checksum = ? WHERE id = ?').run(createHash('sha256').update(bytes).digest('hex'), b.id);
      db.close();
      const run = await restore(b.id, { safetyBackup: false });
      expect(run.status).toBe('FAILED');
      expect(run.errorMessage).toMatch(/age payload failed authentication/);
      expect(await pgSnapshot(pgDb)).toEqual(live);
      await api(t, 'POST', `/api/v1/backups/${b.id}/verify`, { body: {} });
      const v = await waitStatus(b.id, ['CORRUPTED']);
      expect(v.errorMessage).toMatch(/does not decrypt: .*authentication/);
    });
  });

  describe('identity files', () => {
    it('an identity file readable by others stops start-up with a clear message; a bad recipient too', () => {
      const loose = join(keysDir, 'loose.key');
      writeFileSync(loose, readFileSync(A.file));
      chmodSync(loose, 0o644);
      expect(() => loadConfig({ ...base, BACKUP_ENCRYPTION_IDENTITY_FILE: loose })).toThrow(
        new RegExp(`BACKUP_ENCRYPTION_IDENTITY_FILE the identity file ${loose} has mode 0644: it must be readable by its owner only \\(0600\\); run chmod 600`),
      );
      expect(() => loadConfig({ ...base, BACKUP_ENCRYPTION_RECIPIENTS: 'age1notakey' })).toThrow(/BACKUP_ENCRYPTION_RECIPIENTS "age1notakey" is not an age X25519 recipient/);
      let message = '';
      try {
        loadConfig({ ...base, BACKUP_ENCRYPTION_IDENTITY_FILE: B.file.replace('b.key', 'missing.key') });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/BACKUP_ENCRYPTION_IDENTITY_FILE the identity file .*missing\.key cannot be read \(ENOENT\)/);
    });
  });
});
