import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, waitForBackup } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery, pgSnapshot } from './support/pg.js';
import { startS3, type TestS3 } from './support/s3.js';

/** Encrypted backups with an S3 destination: the ciphertext is what leaves the machine, and S3 alone restores it. */
describe('encryption with S3 destinations', () => {
  const keysDir = mkdtempSync(join(tmpdir(), 'bm-age-s3-'));
  const keyFile = join(keysDir, 'k.key');
  const recipient = /Public key: (age1\S+)/.exec(spawnSync('age-keygen', ['-o', keyFile], { encoding: 'utf8' }).stderr)![1];
  chmodSync(keyFile, 0o600);
  let s3: TestS3;
  let t: TestApp;
  let db: string;
  const copies: string[] = [];
  const MARK = `plain-row-${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    s3 = await startS3();
    db = await createPgDatabase('encs3');
    await pgQuery(db, `CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, '${MARK} ' || g FROM generate_series(1, 5000) g`);
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      ...s3.env('offsite', 'enc'),
      BACKUP_STORAGES: 'local,offsite',
      BACKUP_ENCRYPTION_RECIPIENTS: recipient,
      BACKUP_ENCRYPTION_IDENTITY_FILE: keyFile,
    });
  });

  afterAll(async () => {
    await t?.close();
    await s3?.stop();
    rmSync(keysDir, { recursive: true, force: true });
    for (const d of [db, ...copies]) if (d) await dropPgDatabase(d);
  });

  it.each(['none', 'zstd'])('compression %s: the object in S3 is the age ciphertext (no dump text), opens with the stock age, and restores alone', async (compression) => {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', format: 'plain', compression } });
    expect(r.status).toBe(202);
    await waitForBackup(t, r.body.id);
    const b = await waitFor(async () => {
      const x = (await api(t, 'GET', `/api/v1/backups/${r.body.id}`)).body;
      return x.status === 'VERIFIED' ? x : undefined;
    }, 'the backup verified');
    expect(b.encrypted).toBe(true);
    const res = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `enc/${b.fileKey}` }));
    const remote = Buffer.from(await res.Body!.transformToByteArray());
    expect(remote.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    expect(remote.includes(MARK)).toBe(false);
    expect(createHash('sha256').update(remote).digest('hex')).toBe(b.checksum);
    expect(remote.equals(readFileSync(join(t.config.options.storageDir, b.fileKey)))).toBe(true);
    const opened = spawnSync('age', ['-d', '-i', keyFile], { input: remote, maxBuffer: 1 << 28 });
    expect(opened.status).toBe(0);
    const sql = compression === 'zstd' ? spawnSync('zstd', ['-d', '-c'], { input: opened.stdout, maxBuffer: 1 << 28 }).stdout : opened.stdout;
    expect(sql.includes(MARK)).toBe(true);

    // Without the local copy, the restore reads (and decrypts) the S3 object.
    rmSync(join(t.config.options.storageDir, b.fileKey));
    const copy = `bmt_encs3_${randomBytes(4).toString('hex')}`;
    copies.push(copy);
    const req = await api(t, 'POST', `/api/v1/backups/${b.id}/restore`, { body: { confirm: true, targetDatabase: copy, safetyBackup: false } });
    expect(req.status).toBe(202);
    const run = await waitFor(async () => {
      const x = (await api(t, 'GET', `/api/v1/restores/${req.body.id}`)).body;
      return ['COMPLETED', 'FAILED'].includes(x?.status) ? x : undefined;
    }, 'the restore', 90_000);
    expect(run.errorMessage).toBeNull();
    expect(await pgSnapshot(copy)).toEqual(await pgSnapshot(db));
  });
});
