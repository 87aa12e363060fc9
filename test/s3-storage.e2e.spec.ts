import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { EngineError } from '../src/common/errors.js';
import { S3Storage } from '../src/storage/s3.storage.js';
import { parseStorageUrl, type S3Location } from '../src/storage/storage-location.js';
import { waitFor } from './support/app.js';
import { startS3, type TestS3 } from './support/s3.js';

const MiB = 1024 * 1024;
const tuning = { partSizeBytes: 5 * MiB, partsInFlight: 2 };

/** Writes `data` into `stream` in 1 MiB chunks, honouring backpressure. */
async function feed(stream: NodeJS.WritableStream, data: Buffer): Promise<void> {
  for (let i = 0; i < data.length; i += MiB) {
    if (!stream.write(data.subarray(i, i + MiB))) await once(stream, 'drain');
  }
}

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('S3 storage against an S3 protocol server', () => {
  let s3: TestS3;
  let storage: S3Storage;
  const storageFor = (prefix: string, creds = { accessKeyId: '', secretAccessKey: '' }) =>
    new S3Storage('offsite', parseStorageUrl(s3.url(prefix)) as S3Location, creds.accessKeyId ? creds : { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, tuning);

  beforeAll(async () => {
    s3 = await startS3();
    storage = storageFor('prod');
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('streams a multipart upload that becomes visible only on commit, with its SHA-256 as a tag', async () => {
    const data = randomBytes(12 * MiB + 12345);
    const w = await storage.createWriter('app/app_manual_1.sql.zst', 'rec-1');
    await feed(w.stream, data);
    await new Promise<void>((r) => w.stream.end(r));
    expect(await storage.stat('app/app_manual_1.sql.zst')).toBeUndefined();
    expect(await s3.keys()).toEqual([]);
    const sha256 = createHash('sha256').update(data).digest('hex');
    await w.commit({ sha256 });
    expect(w.written()).toBe(data.length);
    expect(await s3.keys()).toEqual(['prod/app/app_manual_1.sql.zst']);
    expect((await storage.stat('app/app_manual_1.sql.zst'))?.size).toBe(data.length);
    expect((await readAll(await storage.read('app/app_manual_1.sql.zst'))).equals(data)).toBe(true);
    const tags = await s3.client.send(new GetObjectTaggingCommand({ Bucket: s3.bucket, Key: 'prod/app/app_manual_1.sql.zst' }));
    expect(tags.TagSet).toEqual([{ Key: 'sha256', Value: sha256 }]);
    expect(await s3.uploads()).toEqual([]);
    // Ranged reads, listing under the prefix, JSON, delete.
    expect((await readAll(await storage.read('app/app_manual_1.sql.zst', { start: data.length - 10 }))).equals(data.subarray(-10))).toBe(true);
    await storage.writeJson('app/app_manual_1.sql.zst.manifest.json', { sha256 });
    expect(await storage.readJson('app/app_manual_1.sql.zst.manifest.json')).toEqual({ sha256 });
    expect((await storage.list('app/')).map((s) => s.key).sort()).toEqual(['app/app_manual_1.sql.zst', 'app/app_manual_1.sql.zst.manifest.json']);
    expect(await storage.delete('app/app_manual_1.sql.zst')).toBe(true);
    expect(await storage.delete('app/app_manual_1.sql.zst')).toBe(false);
    await expect(storage.read('app/app_manual_1.sql.zst')).rejects.toMatchObject({ code: 'ARTIFACT_MISSING' });
  });

  it('aborts an abandoned write: no object, no multipart upload left', async () => {
    const w = await storage.createWriter('app/app_manual_2.sql.zst', 'rec-2');
    await feed(w.stream, randomBytes(11 * MiB));
    await w.abort();
    expect(await s3.keys('prod/app/app_manual_2')).toEqual([]);
    expect(await s3.uploads()).toEqual([]);
  });

  it('fails the write when the server dies mid-upload; the reconciler aborts the upload it left', async () => {
    const w = await storage.createWriter('app/app_manual_3.sql.zst', 'rec-3');
    const errored = new Promise<Error>((resolve) => w.stream.once('error', resolve));
    // The upload is on the server (a part is being sent) when it dies.
    await feed(w.stream, randomBytes(11 * MiB));
    await waitFor(async () => (await s3.uploads()).length === 1, 'the multipart upload to start');
    await s3.kill();
    const feeding = feed(w.stream, randomBytes(20 * MiB)).catch(() => undefined);
    const err = await errored;
    await feeding;
    expect(err).toBeInstanceOf(EngineError);
    expect(err.message).toMatch(/storage "offsite" .*could not upload app\/app_manual_3\.sql\.zst/);
    await w.abort();
    await s3.restart();
    expect(await s3.keys('prod/app/app_manual_3')).toEqual([]);
    expect((await s3.uploads()).map((u) => u.key)).toEqual(['prod/app/app_manual_3.sql.zst']);
    // Younger than the age limit: left alone; any age: aborted.
    expect(await storage.abortAbandonedUploads(3_600_000)).toBe(0);
    expect(await storage.abortAbandonedUploads(0)).toBe(1);
    expect(await s3.uploads()).toEqual([]);
    expect(await s3.keys('prod/app/app_manual_3')).toEqual([]);
  });

  it('says plainly when the credentials are wrong or the bucket is missing, and never retries them', async () => {
    // NOTE: s3rver checks that the access key exists, not SigV4 signatures: the wrong pair has a
    // key id it does not know.
    const wrongSecret = `wrong-${randomBytes(12).toString('hex')}`;
    const wrong = storageFor('prod', { accessKeyId: 'AKNOSUCHKEY', secretAccessKey: wrongSecret });
    const err = (await wrong.check().catch((e: Error) => e)) as EngineError;
    expect(err).toBeInstanceOf(EngineError);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/refused the credentials; check BACKUP_STORAGE_OFFSITE_ACCESS_KEY_ID and BACKUP_STORAGE_OFFSITE_SECRET_ACCESS_KEY_FILE/);
    expect(err.message).not.toContain(wrongSecret);
    const w = await wrong.createWriter('app/app_manual_4.sql.zst');
    w.stream.write(randomBytes(1000));
    await expect(w.commit()).rejects.toMatchObject({ retryable: false, message: expect.stringMatching(/refused the credentials/) });

    const missing = new S3Storage('offsite', parseStorageUrl(s3.url('prod').replace(`s3://${s3.bucket}/`, 's3://no-such-bucket/')) as S3Location, { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, tuning);
    const err2 = (await missing.check().catch((e: Error) => e)) as EngineError;
    expect(err2.retryable).toBe(false);
    expect(err2.message).toMatch(/the bucket "no-such-bucket" does not exist/);
  });
});
