import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { api, downloadBytes, waitForBackup } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createMyDatabase, dropMyDatabase, myQuery, myUrl } from './support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgQuery, pgSnapshot } from './support/pg.js';
import { startS3, type TestS3 } from './support/s3.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function myRowsOf(db: string): Promise<unknown> {
  return myQuery(db, 'SELECT * FROM items ORDER BY id');
}

async function waitRestore(t: TestApp, id: string): Promise<any> {
  return waitFor(async () => {
    const r = await api(t, 'GET', `/api/v1/restores/${id}`);
    return ['COMPLETED', 'FAILED'].includes(r.body?.status) ? r.body : undefined;
  }, `restore ${id}`, 120_000);
}

/** The object's bytes in the bucket. */
async function objectBytes(s3: TestS3, key: string): Promise<Buffer> {
  const res = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

describe('backups to local disk and S3 at once', () => {
  let s3: TestS3;
  let t: TestApp;
  let pgDb: string;
  let myDb: string;
  const extra: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    s3 = await startS3();
    pgDb = await createPgDatabase('offsite');
    await pgQuery(pgDb, `CREATE TABLE items (id int PRIMARY KEY, name text, payload bytea)`);
    await pgQuery(pgDb, `INSERT INTO items SELECT g, 'item ' || g || ' ✓', decode(md5(g::text), 'hex') FROM generate_series(1, 30000) g`);
    myDb = await createMyDatabase('offsite');
    await myQuery(myDb, ['CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(100)) ENGINE=InnoDB', "INSERT INTO items SELECT seq, CONCAT('Ding ', seq, ' ✓') FROM seq_1_to_20000"]);
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${pgDb}`,
      BACKUP_TARGET_SHOP_URL: myUrl(myDb),
      ...s3.env('offsite', 'prod'),
      BACKUP_STORAGES: 'local,offsite',
      S3_PART_SIZE_MB: '5',
    });
  });

  afterAll(async () => {
    await t?.close();
    await s3?.stop();
    for (const e of extra) await e().catch(() => undefined);
    if (pgDb) await dropPgDatabase(pgDb);
    if (myDb) await dropMyDatabase(myDb);
  });

  const backup = async (target: string, body: Record<string, unknown> = {}) => {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target, ...body } });
    expect(r.status).toBe(202);
    const done = await waitForBackup(t, r.body.id);
    expect(done.errorMessage).toBeNull();
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    return waitFor(async () => {
      const b = (await api(t, 'GET', `/api/v1/backups/${done.id}`)).body;
      return b.status === 'VERIFIED' ? b : undefined;
    }, `backup ${done.id} verified`);
  };

  for (const engine of ['postgres', 'mariadb'] as const) {
    it(`${engine}: one dump, two byte-identical copies with their checksum; S3 alone restores the data`, async () => {
      const target = engine === 'postgres' ? 'app' : 'shop';
      const b = await backup(target, engine === 'postgres' ? { format: 'plain' } : {});
      expect(b.degraded).toBe(false);
      expect(b.destinations.map((d: any) => [d.storage, d.state]).sort()).toEqual([
        ['local', 'VERIFIED'],
        ['offsite', 'VERIFIED'],
      ]);
      const local = readFileSync(join(t.config.options.storageDir, b.fileKey));
      const remote = await objectBytes(s3, `prod/${b.fileKey}`);
      expect(remote.equals(local)).toBe(true);
      expect(sha256(remote)).toBe(b.checksum);
      expect(remote.length).toBe(b.sizeBytes);
      // The manifest is beside each copy.
      const manifest = JSON.parse((await objectBytes(s3, `prod/${b.fileKey}.manifest.json`)).toString('utf8'));
      expect(manifest).toMatchObject({ id: b.id, checksum: { algorithm: 'sha256', value: b.checksum }, sizeBytes: b.sizeBytes });
      expect(await s3.uploads()).toEqual([]);

      // Lose the local copy: download and restore come from S3.
      rmSync(join(t.config.options.storageDir, b.fileKey));
      const dl = await downloadBytes(t, b.id);
      expect(dl.status).toBe(200);
      expect(dl.bytes.equals(local)).toBe(true);
      const copy = `bmt_s3copy_${randomBytes(4).toString('hex')}`;
      extra.push(() => (engine === 'postgres' ? dropPgDatabase(copy) : dropMyDatabase(copy)));
      const run = await waitRestore(t, (await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, targetDatabase: copy, safetyBackup: false } })).body.id);
      expect(run.errorMessage).toBeNull();
      expect(run.status).toBe('COMPLETED');
      if (engine === 'postgres') expect(await pgSnapshot(copy)).toEqual(await pgSnapshot(pgDb));
      else expect(await myRowsOf(copy)).toEqual(await myRowsOf(myDb));

      // Verification now finds the local copy missing: the backup stays good, the record says which copy is gone.
      // Waited for until the verification has recorded its outcome, not only the local copy's
      // state (set before it reads the S3 copy): the re-copy and the hard delete below must not
      // run while it still reads.
      const checked = b.metadata.verification.at;
      await api(t, 'POST', `/api/v1/backups/${b.id}/verify`, { body: {} });
      const after = await waitFor(async () => {
        const r = (await api(t, 'GET', `/api/v1/backups/${b.id}`)).body;
        return r.metadata?.verification?.at !== checked ? r : undefined;
      }, 'the verification to be recorded');
      expect({ status: after.status, error: after.errorMessage, reason: after.metadata.verification.reason }).toEqual({
        status: 'VERIFIED',
        error: null,
        reason: expect.stringMatching(/^good, but not every destination holds it: local: .*missing/),
      });
      expect(after.degraded).toBe(true);
      expect(after.destinations.find((d: any) => d.storage === 'local').state).toBe('MISSING');
      expect(after.destinations.find((d: any) => d.storage === 'offsite').state).toBe('VERIFIED');

      // A re-copy brings it back from S3, checked against the checksum.
      const recopied = await waitFor(async () => {
        await t.app.get((await import('../src/backup/backup-recopier.service.js')).BackupRecopier).sweep();
        const r = (await api(t, 'GET', `/api/v1/backups/${b.id}`)).body;
        return r.destinations.find((d: any) => d.storage === 'local')?.state === 'STORED' ? r : undefined;
      }, 'the local copy to be re-copied', 60_000, 1000);
      expect(recopied.degraded).toBe(false);
      expect(readFileSync(join(t.config.options.storageDir, b.fileKey)).equals(local)).toBe(true);

      // Hard delete removes it from both destinations.
      expect((await api(t, 'DELETE', `/api/v1/backups/${b.id}?hard=true`)).status).toBe(200);
      expect(await s3.keys(`prod/${b.fileKey}`)).toEqual([]);
    });
  }

  it('a request names its destinations; an unknown one is refused before anything is queued', async () => {
    const bad = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', storages: ['offsite', 'tape'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    expect(bad.body.message).toMatch(/unknown destination "tape"; configured: local, offsite/);
    const b = await backup('app', { storages: ['offsite'] });
    expect(b.destinations.map((d: any) => d.storage)).toEqual(['offsite']);
    expect(await s3.keys(`prod/${b.fileKey}`)).toEqual([`prod/${b.fileKey}`, `prod/${b.fileKey}.manifest.json`]);
    expect(await api(t, "GET", `/api/v1/backups/${b.id}`).then((r) => r.body.fileExists)).toBe(true);
  });

  it('a schedule names its destinations: unknown ones are refused when it is saved, its backups go only there', async () => {
    const base = { name: 'app-offsite', target: 'app', preset: 'daily', enabled: false };
    const unknown = await api(t, 'POST', '/api/v1/schedules', { body: { ...base, storages: ['local', 'tape'] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/storages: unknown destination "tape"; configured: local, offsite/) });
    const malformed = await api(t, 'POST', '/api/v1/schedules', { body: { ...base, storages: 'offsite' } });
    expect(malformed.status).toBe(400);
    expect(JSON.stringify(malformed.body.message)).toMatch(/storages must be an array of storage names/);

    const created = await api(t, 'POST', '/api/v1/schedules', { body: { ...base, storages: ['offsite', 'offsite'] } });
    expect(created.status).toBe(201);
    expect(created.body.storages).toEqual(['offsite']);
    const patched = await api(t, 'PATCH', `/api/v1/schedules/${created.body.id}`, { body: { storages: ['offsite', 'tape'] } });
    expect(patched.status).toBe(400);
    expect(patched.body.message).toMatch(/unknown destination "tape"/);

    // The scheduler's request (the same one a tick makes) carries them to the backup job.
    const run = await api(t, 'POST', `/api/v1/schedules/${created.body.id}/run`);
    expect(run.status).toBe(202);
    const done = await waitForBackup(t, run.body.id);
    expect(done.status).toMatch(/COMPLETED|VERIFIED/);
    const rec = (await api(t, 'GET', `/api/v1/backups/${done.id}`)).body;
    expect(rec.triggeredBy).toBe('schedule:app-offsite');
    expect(rec.destinations.map((d: any) => d.storage)).toEqual(['offsite']);
    expect(await s3.keys(`prod/${rec.fileKey}`)).toEqual([`prod/${rec.fileKey}`, `prod/${rec.fileKey}.manifest.json`]);
    expect(existsSync(join(t.config.options.storageDir, rec.fileKey))).toBe(false);

    // null: back to the defaults (local and offsite here).
    const cleared = await api(t, 'PATCH', `/api/v1/schedules/${created.body.id}`, { body: { storages: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.body.storages).toBeNull();
  });
});
