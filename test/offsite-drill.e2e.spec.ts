import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '../src/auth/token-verifier.js';
import { Role } from '../src/auth/roles.js';
import { api, waitForBackup, waitForSettled } from './support/api.js';
import { dropQueueKeys, startTestApp, testEnv, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery, pgSnapshot } from './support/pg.js';
import { freePort, startProcess, waitForHttp, type Proc } from './support/processes.js';
import { startS3, type TestS3 } from './support/s3.js';

describe('backups that outlive the machine', () => {
  let s3: TestS3;
  let source: string;
  const dropLater: string[] = [];

  beforeAll(async () => {
    s3 = await startS3();
    source = await createPgDatabase('drill_src');
    await pgQuery(source, `CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2)); CREATE TABLE notes (id serial PRIMARY KEY, body text)`);
    await pgQuery(source, `INSERT INTO accounts SELECT g, 'owner ' || g, g * 3.25 FROM generate_series(1, 5000) g; INSERT INTO notes (body) SELECT repeat('n', g % 50) FROM generate_series(1, 3000) g`);
  });

  afterAll(async () => {
    await s3?.stop();
    for (const db of [source, ...dropLater]) if (db) await dropPgDatabase(db).catch(() => undefined);
  });

  const waitRestore = (t: TestApp, id: string) =>
    waitFor(async () => {
      const r = await api(t, 'GET', `/api/v1/restores/${id}`);
      return ['COMPLETED', 'FAILED'].includes(r.body?.status) ? r.body : undefined;
    }, `restore ${id}`, 120_000);

  it('disaster drill: A backs up to S3 and is lost (data dir, catalog, Redis prefix); a fresh B rebuilds its catalog from S3 and restores', async () => {
    const config = { BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${source}`, ...s3.env('offsite', 'site-a'), BACKUP_STORAGES: 'offsite' };
    const a = await startTestApp(config);
    let backup: any;
    try {
      const r = await api(a, 'POST', '/api/v1/backups', { body: { target: 'app' } });
      backup = await waitForBackup(a, r.body.id);
      expect(backup.status).toMatch(/COMPLETED|VERIFIED/);
      backup = await waitFor(async () => {
        const b = (await api(a, 'GET', `/api/v1/backups/${r.body.id}`)).body;
        return b.status === 'VERIFIED' ? b : undefined;
      }, 'verified on A');
    } finally {
      // The machine is gone: its data directory (catalog, storage), its Redis keys.
      await a.close();
    }
    const expected = await pgSnapshot(source);

    const b = await startTestApp(config);
    try {
      expect((await api(b, 'GET', '/api/v1/backups')).body.items).toEqual([]);
      const dry = await api(b, 'POST', '/api/v1/catalog/rebuild', { body: { storage: 'offsite', dryRun: true } });
      expect(dry.status).toBe(200);
      expect(dry.body.storages[0].created).toEqual([{ id: backup.id, target: 'app', fileKey: backup.fileKey, state: 'STORED' }]);
      expect((await api(b, 'GET', '/api/v1/backups')).body.items).toEqual([]);
      expect((await api(b, 'POST', '/api/v1/catalog/rebuild', { body: { storage: 'offsite' }, token: b.token('operator') })).status).toBe(403);

      const first = await api(b, 'POST', '/api/v1/catalog/rebuild', { body: { storage: 'offsite' } });
      expect(first.body.storages[0]).toMatchObject({ storage: 'offsite', manifests: 1, created: [{ id: backup.id, state: 'STORED' }], invalid: [] });
      const second = await api(b, 'POST', '/api/v1/catalog/rebuild', { body: { storage: 'offsite' } });
      expect(second.body.storages[0]).toMatchObject({ manifests: 1, created: [], copiesAdded: [], markedMissing: [], unchanged: 1 });

      // The rebuild queued a verification of the record it made: once it is over, nothing reads
      // the S3 object behind the test's back (a verification still to run when the object is
      // deleted below would mark the copy MISSING itself, and the rebuild would find nothing to mark).
      const rebuilt = await waitForSettled(b, backup.id);
      expect({ status: rebuilt.status, error: rebuilt.errorMessage }).toEqual({ status: 'VERIFIED', error: null });
      for (const f of ['id', 'target', 'engine', 'fileKey', 'checksum', 'sizeBytes', 'rawBytes', 'format', 'compression', 'scope', 'triggeredBy']) expect(rebuilt[f]).toEqual(backup[f]);
      expect(rebuilt.metadata.tableRows).toEqual(backup.metadata.tableRows);
      expect(rebuilt.destinations).toEqual([expect.objectContaining({ storage: 'offsite', state: 'VERIFIED' })]);

      const copy = `bmt_drill_${randomBytes(4).toString('hex')}`;
      dropLater.push(copy);
      const run = await waitRestore(b, (await api(b, 'POST', `/api/v1/backups/${backup.id}/restore`, { body: { confirm: true, targetDatabase: copy, safetyBackup: false } })).body.id);
      expect(run.errorMessage).toBeNull();
      expect(run.status).toBe('COMPLETED');
      expect(await pgSnapshot(copy)).toEqual(expected);

      // The artifact disappears from S3: a rebuild marks the copy missing.
      await s3.client.send(new (await import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: s3.bucket, Key: `site-a/${backup.fileKey}` }));
      const third = await api(b, 'POST', '/api/v1/catalog/rebuild', { body: { storage: 'offsite' } });
      expect(third.body.storages[0].markedMissing).toEqual([backup.id]);
      const gone = (await api(b, 'GET', `/api/v1/backups/${backup.id}`)).body;
      expect(gone.destinations[0]).toMatchObject({ storage: 'offsite', state: 'MISSING' });
      expect(gone.degraded).toBe(true);
    } finally {
      await b.close();
    }
  });

  it('two machines: two workers with their own STORAGE_DIR share S3, the API runs on a third; downloads and restores work whichever worker made the backup', async () => {
    const port = await freePort();
    const base = testEnv({
      PORT: String(port),
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${source}`,
      ...s3.env('offsite', 'two-machines'),
      BACKUP_STORAGES: 'local,offsite',
      LOG_LEVEL: 'debug',
    });
    const dirs = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'bm-machine-')));
    const procs: Proc[] = [];
    const token = signToken(base.JWT_SECRET, { sub: 'ops', role: Role.Admin }, { expiresIn: '1h' });
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      const bytes = Buffer.from(await r.arrayBuffer());
      let json: any;
      try {
        json = JSON.parse(bytes.toString('utf8'));
      } catch {
        json = undefined;
      }
      return { status: r.status, body: json, bytes };
    };
    try {
      procs.push(startProcess('main', { ...base, APP_ROLE: 'api', STORAGE_DIR: dirs[0] }));
      await waitForHttp(`http://127.0.0.1:${port}/health/live`);
      const backupOn = async (): Promise<any> => {
        const r = await call('POST', '/api/v1/backups', { target: 'app', description: `machine run ${randomBytes(2).toString('hex')}` });
        expect(r.status).toBe(202);
        const done = await waitFor(async () => {
          const b = (await call('GET', `/api/v1/backups/${r.body.id}`)).body;
          return b.status === 'VERIFIED' || b.status === 'FAILED' ? b : undefined;
        }, `backup ${r.body.id}`, 120_000);
        expect(done.status).toBe('VERIFIED');
        return done;
      };
      // Machine 1 alone makes a backup; then machine 2 alone; then both run.
      const worker = (n: number) => startProcess('worker', { ...base, STORAGE_DIR: dirs[n] });
      let w1 = worker(1);
      procs.push(w1);
      const made = new Map<string, any>();
      made.set('1', await backupOn());
      w1.child.kill('SIGKILL');
      await w1.exited;
      const w2 = worker(2);
      procs.push(w2);
      made.set('2', await backupOn());
      w1 = worker(1);
      procs.push(w1);
      for (const [n, done] of made) {
        expect(existsSync(join(dirs[Number(n)], done.fileKey))).toBe(true);
        expect(existsSync(join(dirs[0], done.fileKey))).toBe(false);
      }
      expect(made.size).toBe(2);
      for (const done of made.values()) {
        // The API process's own directory has none of them: the download comes from S3.
        const dl = await call('GET', `/api/v1/backups/${done.id}/download`);
        expect(dl.status).toBe(200);
        expect(createHash('sha256').update(dl.bytes).digest('hex')).toBe(done.checksum);
        const copy = `bmt_machine_${randomBytes(4).toString('hex')}`;
        dropLater.push(copy);
        const run = await call('POST', `/api/v1/backups/${done.id}/restore`, { confirm: true, targetDatabase: copy, safetyBackup: false });
        expect(run.status).toBe(202);
        const ended = await waitFor(async () => {
          const x = (await call('GET', `/api/v1/restores/${run.body.id}`)).body;
          return ['COMPLETED', 'FAILED'].includes(x?.status) ? x : undefined;
        }, `restore ${run.body.id}`, 120_000);
        expect(ended.errorMessage).toBeNull();
        expect(ended.status).toBe('COMPLETED');
        expect(await pgSnapshot(copy)).toEqual(await pgSnapshot(source));
      }
      // The S3 secret is in no process's argv and in no log line (debug level).
      expect(procs.map((p) => p.output()).join('').length).toBeGreaterThan(0);
      for (const p of procs) {
        expect(p.output()).not.toContain(s3.secretAccessKey);
        if (p.child.exitCode === null && p.child.signalCode === null) expect(readFileSync(`/proc/${p.child.pid}/cmdline`, 'utf8')).not.toContain(s3.secretAccessKey);
      }
    } finally {
      for (const p of procs) p.child.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
      await dropQueueKeys(base.QUEUE_PREFIX);
      for (const d of [...dirs, base.DATA_DIR]) rmSync(d, { recursive: true, force: true });
    }
  });
});
