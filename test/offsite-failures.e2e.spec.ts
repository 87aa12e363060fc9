import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { BackupRecopier } from '../src/backup/backup-recopier.service.js';
import { api, waitForBackup } from './support/api.js';
import { bullQueue, REDIS_URL, startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { runCli } from './support/processes.js';
import { startS3, type TestS3 } from './support/s3.js';

/** Every value under a Redis key prefix, as text (hashes, lists, sets, zsets and strings). */
async function redisText(prefix: string): Promise<string> {
  const redis = new Redis(REDIS_URL);
  let text = '';
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      for (const k of keys) {
        const type = await redis.type(k);
        const v =
          type === 'hash' ? await redis.hgetall(k)
          : type === 'list' ? await redis.lrange(k, 0, -1)
          : type === 'set' ? await redis.smembers(k)
          : type === 'zset' ? await redis.zrange(k, 0, -1)
          : type === 'string' ? await redis.get(k)
          : null;
        text += `${k} ${JSON.stringify(v)}\n`;
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return text;
}

describe('S3 destinations that fail', () => {
  let s3: TestS3;
  let t: TestApp;
  let db: string;
  let badSecret: string;

  beforeAll(async () => {
    s3 = await startS3();
    db = await createPgDatabase('s3fail');
    // ~40 MB of incompressible rows: the upload is still running when the server is killed.
    await pgQuery(db, `CREATE TABLE blobs (id int PRIMARY KEY, b bytea)`);
    await pgQuery(db, `INSERT INTO blobs SELECT g, decode(repeat(md5(random()::text), 4), 'hex') FROM generate_series(1, 600000) g`);
    badSecret = `bad-secret-${randomBytes(12).toString('hex')}`;
    const badSecretFile = join(s3.dir, '..', `${randomBytes(4).toString('hex')}.bad`);
    writeFileSync(badSecretFile, badSecret, { mode: 0o600 });
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      ...s3.env('offsite', 'prod'),
      BACKUP_STORAGE_WRONGKEY_URL: s3.url('prod'),
      BACKUP_STORAGE_WRONGKEY_ACCESS_KEY_ID: 'AKNOTAKEYOFTHISSERVER',
      BACKUP_STORAGE_WRONGKEY_SECRET_ACCESS_KEY_FILE: badSecretFile,
      BACKUP_STORAGE_NOBUCKET_URL: s3.url('prod').replace(`s3://${s3.bucket}/`, 's3://no-such-bucket/'),
      BACKUP_STORAGE_NOBUCKET_ACCESS_KEY_ID: s3.accessKeyId,
      BACKUP_STORAGE_NOBUCKET_SECRET_ACCESS_KEY_FILE: s3.secretFile,
      BACKUP_STORAGES: 'local,offsite',
      BACKUP_PG_FORMAT: 'plain',
      S3_PART_SIZE_MB: '5',
      S3_PARTS_IN_FLIGHT: '1',
      S3_ABANDONED_UPLOAD_HOURS: '0',
      JOB_ATTEMPTS: '3',
    });
  });

  afterAll(async () => {
    await t?.close();
    await s3?.stop();
    if (db) await dropPgDatabase(db);
  });

  const start = async (body: Record<string, unknown>) => {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', ...body } });
    expect(r.status).toBe(202);
    return r.body.id as string;
  };
  const sweep = () => t.app.get(BackupRecopier).sweep();

  it('lists the destinations with where they are, whether they answer, and tests one with a probe object', async () => {
    const list = await api(t, 'GET', '/api/v1/storages', { token: t.token('viewer') });
    expect(list.status).toBe(200);
    const byName = Object.fromEntries(list.body.map((s: any) => [s.name, s]));
    expect(byName.local).toMatchObject({ kind: 'local', default: true, reachable: true, location: t.config.options.storageDir });
    expect(byName.local.freeBytes).toBeGreaterThan(0);
    expect(byName.offsite).toMatchObject({ kind: 's3', default: true, reachable: true, error: null, freeBytes: null, location: `s3://${s3.bucket}/prod/ at ${s3.endpoint} (us-east-1)` });
    expect(byName.wrongkey).toMatchObject({ reachable: false, error: expect.stringMatching(/refused the credentials; check BACKUP_STORAGE_WRONGKEY_ACCESS_KEY_ID/) });
    expect(byName.nobucket).toMatchObject({ reachable: false, error: expect.stringMatching(/the bucket "no-such-bucket" does not exist/) });

    const ok = await api(t, 'POST', '/api/v1/storages/offsite/test');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ name: 'offsite', ok: true, key: expect.stringMatching(/^bm-probe\/probe-[0-9a-f]{8}\.json$/) });
    expect(await s3.keys('prod/bm-probe')).toEqual([]);
    const bad = await api(t, 'POST', '/api/v1/storages/wrongkey/test');
    expect(bad.status).toBe(503);
    expect(bad.body).toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/storage "wrongkey": could not write the probe object .*refused the credentials/) });
    expect((await api(t, 'POST', '/api/v1/storages/tape/test')).body).toMatchObject({ code: 'STORAGE_NOT_FOUND', message: expect.stringMatching(/No storage named "tape"; configured: local, offsite, nobucket, wrongkey|configured: /) });
    expect((await api(t, 'POST', '/api/v1/storages/offsite/test', { token: t.token('operator') })).status).toBe(403);
  });

  it('wrong credentials or a missing bucket: FAILED once with a clear reason, no retries, the secret nowhere', async () => {
    for (const [storage, reason] of [
      ['wrongkey', /storage "wrongkey" .*refused the credentials; check BACKUP_STORAGE_WRONGKEY_ACCESS_KEY_ID and BACKUP_STORAGE_WRONGKEY_SECRET_ACCESS_KEY_FILE/],
      ['nobucket', /the bucket "no-such-bucket" does not exist/],
    ] as const) {
      const id = await start({ storages: [storage], description: `to ${storage}` });
      const done = await waitForBackup(t, id);
      expect(done.status).toBe('FAILED');
      expect(done.errorMessage).toMatch(reason);
      expect(done.attempts).toBe(1);
    }
    // With a good destination beside it the backup completes, degraded, and says which copy failed
    // wherever its status shows: the CLI that asked for it (exit 2), the API's record, list and
    // answers, and a gauge (the CLI's other lines: src/backup/copy-health.spec.ts).
    // A trigger in the catalog notes the copies a reader finds at the instant the record turns
    // COMPLETED (the CLI, polling, stops there): they were once written only after it.
    const catalog = new Database(join(t.dataDir, 'catalog.sqlite'));
    catalog.exec(`CREATE TABLE test_copies_at_completion (backupId TEXT, copies TEXT);
      CREATE TRIGGER test_copies_at_completion AFTER UPDATE OF status ON bm_backup_records WHEN NEW.status = 'COMPLETED' BEGIN
        INSERT INTO test_copies_at_completion SELECT NEW.id, (SELECT group_concat(c, ' ') FROM (SELECT storage || ':' || state AS c FROM bm_backup_copies WHERE backupId = NEW.id ORDER BY storage));
      END;`);
    let created: Awaited<ReturnType<typeof runCli>>;
    let atCompletion: unknown[];
    try {
      created = await runCli(['backup', 'create', '--target', 'app', '--storages', 'local,wrongkey', '--wait', '--json', '-q'], t.env);
      atCompletion = catalog.prepare('SELECT backupId, copies FROM test_copies_at_completion').all();
    } finally {
      catalog.exec('DROP TRIGGER test_copies_at_completion; DROP TABLE test_copies_at_completion');
      catalog.close();
    }
    expect(atCompletion).toEqual([{ backupId: JSON.parse(created.stdout).id, copies: 'local:STORED wrongkey:FAILED' }]);
    expect(created.stderr).toMatch(/backup [0-9a-f-]{36} is (COMPLETED|VERIFIED) but degraded: wrongkey FAILED/);
    expect(created.code).toBe(2);
    const printed = JSON.parse(created.stdout);
    expect(printed).toMatchObject({ status: expect.stringMatching(/COMPLETED|VERIFIED/), degraded: true, failedDestinations: ['wrongkey'] });
    const id = printed.id as string;
    const rec = (await api(t, 'GET', `/api/v1/backups/${id}`)).body;
    expect(rec).toMatchObject({ status: expect.stringMatching(/COMPLETED|VERIFIED/), degraded: true, failedDestinations: ['wrongkey'] });
    expect((await api(t, 'GET', '/api/v1/backups?target=app&limit=50')).body.items.find((b: any) => b.id === id)).toMatchObject({ degraded: true, failedDestinations: ['wrongkey'] });
    expect((await api(t, 'POST', `/api/v1/backups/${id}/pin`)).body).toMatchObject({ pinned: true, degraded: true, failedDestinations: ['wrongkey'] });
    expect((await api(t, 'POST', `/api/v1/backups/${id}/unpin`)).body).toMatchObject({ pinned: false, degraded: true });
    expect(rec.destinations.find((d: any) => d.storage === 'wrongkey')).toMatchObject({ state: 'FAILED', errorMessage: expect.stringMatching(/refused the credentials/) });
    const audit = await waitFor(async () => {
      const r = await api(t, 'GET', `/api/v1/audit?action=backup.copy.*`);
      return r.body.items?.find((e: any) => e.resource === id) ?? undefined;
    }, 'the audit event of the failed copy');
    expect(audit).toMatchObject({ action: 'backup.copy.complete', outcome: 'failure' });
    const metrics = await api(t, 'GET', '/metrics');
    expect(metrics.text).toMatch(/backup_manager_copy_failures_total\{storage="wrongkey"\} [1-9]/);
    expect(metrics.text).toMatch(/backup_manager_degraded_backups\{storage="wrongkey"\} 1\n/);

    // The secret is nowhere a user or Redis can see.
    for (const path of ['/api/v1/storages', `/api/v1/backups?limit=50`, '/api/v1/audit?limit=200']) {
      expect((await api(t, 'GET', path)).text).not.toContain(badSecret);
      expect((await api(t, 'GET', path)).text).not.toContain(s3.secretAccessKey);
    }
    const redis = await redisText(t.env.QUEUE_PREFIX);
    expect(redis.length).toBeGreaterThan(0);
    expect(redis).not.toContain(badSecret);
    expect(redis).not.toContain(s3.secretAccessKey);
  });

  it('S3 killed mid-upload: the S3 copy ends FAILED with the reason, no object appears, the upload is reconciled and the copy repaired', async () => {
    const id = await start({ description: 'killed mid-upload' });
    await waitFor(async () => (await s3.uploads()).length > 0, 'the multipart upload to start', 60_000, 50);
    await s3.kill();
    const done = await waitForBackup(t, id, 180_000);
    expect(done.status).toMatch(/COMPLETED|VERIFIED/);
    const rec = (await api(t, 'GET', `/api/v1/backups/${id}`)).body;
    const offsite = rec.destinations.find((d: any) => d.storage === 'offsite');
    expect(offsite.state).toBe('FAILED');
    expect(offsite.errorMessage).toMatch(/storage "offsite" .*could not upload/);
    expect(rec.destinations.find((d: any) => d.storage === 'local').state).toMatch(/STORED|VERIFIED/);

    // The re-copy queued at once fails while S3 is down; once it has given up, nothing writes there.
    const queue = bullQueue(t.env.QUEUE_PREFIX);
    await waitFor(async () => (await (await queue.getJob(`recopy-${id}-offsite-after-backup`))?.getState()) === 'failed', 'the first re-copy to give up', 60_000);
    await queue.close();
    await s3.restart();
    expect(await s3.keys(`prod/${rec.fileKey}`)).toEqual([]);
    expect((await s3.uploads()).map((u) => u.key)).toEqual([`prod/${rec.fileKey}`]);
    // The sweep aborts the abandoned upload and queues the re-copy.
    const swept = await sweep();
    expect(swept.abortedUploads).toBe(1);
    expect(await s3.uploads()).toEqual([]);
    const repaired = await waitFor(async () => {
      const r = (await api(t, 'GET', `/api/v1/backups/${id}`)).body;
      return r.destinations.find((d: any) => d.storage === 'offsite')?.state === 'STORED' ? r : undefined;
    }, 'the S3 copy to be repaired', 120_000, 500);
    expect(repaired.degraded).toBe(false);
    expect(await s3.keys(`prod/${rec.fileKey}`)).toEqual([`prod/${rec.fileKey}`, `prod/${rec.fileKey}.manifest.json`]);
  });

  it('S3 killed mid-upload of a backup that goes only there: the backup ends FAILED, nothing visible, no upload left', async () => {
    const before = await s3.keys('prod/');
    const id = await start({ storages: ['offsite'], description: 'only offsite' });
    await waitFor(async () => (await s3.uploads()).length > 0, 'the multipart upload to start', 60_000, 50);
    await s3.kill();
    const done = await waitForBackup(t, id, 180_000);
    expect(done.status).toBe('FAILED');
    expect(done.errorMessage).toMatch(/storage "offsite" .*could not (upload|reach)/);
    await s3.restart();
    expect(await s3.keys('prod/')).toEqual(before);
    expect((await s3.uploads()).length).toBeGreaterThan(0);
    await sweep();
    expect(await s3.uploads()).toEqual([]);
    expect(done.fileKey).toBeNull();
  });
});
