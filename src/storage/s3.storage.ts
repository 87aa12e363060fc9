import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { Upload } from '@aws-sdk/lib-storage';
import { createRequire } from 'node:module';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { DomainError, EngineError, ErrorCode } from '../common/errors.js';
import { redact } from '../common/redact.js';
import { describeLocation, type S3Location } from './storage-location.js';
import type { ArtifactStat, ArtifactWriter, StorageBackend } from './storage.interface.js';

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

// NOTE: the AWS SDK (client and multipart uploads) is loaded when the first S3 destination is
// opened, not with this module: it adds ~25 MB to a process's resident memory, which
// installations without S3 should not pay.
const load = createRequire(import.meta.url);
let clientS3: typeof import('@aws-sdk/client-s3') | undefined;
let libStorage: typeof import('@aws-sdk/lib-storage') | undefined;
const sdk = () => (clientS3 ??= load('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3'));
const uploads = () => (libStorage ??= load('@aws-sdk/lib-storage') as typeof import('@aws-sdk/lib-storage'));

export interface S3Credentials {
  accessKeyId?: string;
  secretAccessKey?: string;
}

export interface S3Tuning {
  partSizeBytes: number;
  partsInFlight: number;
}

/** What the AWS SDK's errors carry that tells them apart. */
interface SdkError extends Error {
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

const DENIED = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'InvalidToken', 'ExpiredToken', 'CredentialsProviderError']);

/**
 * Artifacts in an S3-compatible bucket. A writer streams into a multipart upload (at most
 * `partsInFlight` parts of `partSizeBytes` in memory) that is completed only on `commit`, so an
 * object is visible only once whole; a failed or abandoned writer aborts its upload, and
 * `abortAbandonedUploads` removes those a killed process left.
 */
export class S3Storage implements StorageBackend {
  readonly kind = 's3' as const;
  readonly location: string;
  private readonly client: S3Client;
  private readonly secrets: string[];

  constructor(
    /** The destination's name, for messages. */
    private readonly name: string,
    private readonly loc: S3Location,
    creds: S3Credentials,
    private readonly tuning: S3Tuning,
  ) {
    this.location = describeLocation(loc);
    this.secrets = [creds.secretAccessKey].filter((s): s is string => !!s);
    const config: S3ClientConfig = {
      region: loc.region,
      endpoint: loc.endpoint,
      forcePathStyle: loc.forcePathStyle,
      // Without both, the SDK's default chain (environment, shared files, instance roles) applies.
      credentials: creds.accessKeyId && creds.secretAccessKey ? { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey } : undefined,
      // We hash what we store ourselves (SHA-256); the SDK's default CRC headers trip some
      // S3-compatible stores (B2, R2, older MinIO).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 5 * 60_000 },
    };
    this.client = new (sdk().S3Client)(config);
    // Loaded now rather than by the first backup: its code is compiled and settled while the
    // process starts, not on top of the first upload's buffers.
    uploads();
  }

  /** The bucket answers with these credentials. @throws a clear EngineError otherwise. */
  async check(): Promise<void> {
    try {
      await this.client.send(new (sdk().HeadBucketCommand)({ Bucket: this.loc.bucket }));
    } catch (err) {
      // A HEAD answer has no body: a 404 is the bucket's.
      const e = err as SdkError;
      if (e.$metadata?.httpStatusCode === 404) Object.assign(e, { Code: 'NoSuchBucket' });
      throw this.mapError(e, 'reach the bucket');
    }
  }

  async freeBytes(): Promise<number | undefined> {
    return undefined;
  }

  /** The object key of an artifact key; rejects anything that is not a generated key. */
  objectKey(key: string): string {
    if (typeof key !== 'string' || key.length > 512 || !key.split('/').every((p) => SEGMENT.test(p) && !p.includes('..'))) {
      throw new DomainError(ErrorCode.StorageRefused, 'Invalid artifact key');
    }
    return this.loc.prefix + key;
  }

  async createWriter(key: string, group?: string): Promise<ArtifactWriter> {
    const Key = this.objectKey(key);
    const body = new PassThrough({ highWaterMark: 1 << 20 });
    let upload: Upload | undefined;
    let done: Promise<unknown> | undefined;
    let failure: Error | undefined;
    let bytes = 0;
    let settled = false;
    // The write waiting for the upload to take more (at most one: a Writable writes in order).
    let waiting: ((err?: Error | null) => void) | undefined;
    const release = () => {
      const cb = waiting;
      waiting = undefined;
      body.off('drain', release);
      cb?.(failure ?? null);
    };
    const start = () => {
      if (upload) return;
      upload = new (uploads().Upload)({
        client: this.client,
        params: { Bucket: this.loc.bucket, Key, Body: body, ContentType: 'application/octet-stream', Metadata: group ? { 'bm-group': group } : undefined },
        queueSize: this.tuning.partsInFlight,
        partSize: this.tuning.partSizeBytes,
        // On a failed part the upload is aborted once every part in flight has settled.
        leavePartsOnError: false,
      });
      done = upload.done().finally(() => void (settled = true));
      done.catch((err: Error) => {
        failure ??= this.mapError(err, `upload ${key}`);
        // Nothing reads the dump any more: fail the writer so the pipeline stops.
        release();
        if (!stream.destroyed) stream.destroy(failure);
      });
    };
    const stream = new Writable({
      highWaterMark: 1 << 20,
      write: (chunk: Buffer, _enc, cb) => {
        if (failure) return cb(failure);
        start();
        bytes += chunk.length;
        if (body.write(chunk)) return cb();
        waiting = cb;
        body.once('drain', release);
      },
      // The object is completed on commit, not when the last byte arrives.
      final: (cb) => cb(failure ?? null),
    });
    stream.on('error', () => undefined);
    const uploadId = () => (upload as unknown as { uploadId?: string } | undefined)?.uploadId;
    return {
      stream,
      written: () => bytes,
      commit: async (meta) => {
        if (failure) throw failure;
        start();
        body.end();
        try {
          await done;
        } catch {
          throw failure!;
        }
        if (meta?.sha256) {
          // Multipart metadata is fixed when the upload starts, before the hash is known: the
          // SHA-256 goes on as a tag. Stores without tagging keep it in the manifest only.
          await this.client
            .send(new (sdk().PutObjectTaggingCommand)({ Bucket: this.loc.bucket, Key, Tagging: { TagSet: [{ Key: 'sha256', Value: meta.sha256 }] } }))
            .catch(() => undefined);
        }
      },
      abort: async () => {
        if (!upload) return;
        if (!settled) {
          body.destroy(new Error('the artifact write was abandoned'));
          await done?.catch(() => undefined);
        }
        // The upload aborts itself once its parts settle; say it again in case that request
        // failed (a store that is down now is cleaned up by `abortAbandonedUploads` later).
        const id = uploadId();
        if (id && failure) {
          await this.client.send(new (sdk().AbortMultipartUploadCommand)({ Bucket: this.loc.bucket, Key, UploadId: id })).catch(() => undefined);
        }
      },
    };
  }

  async read(key: string, range?: { start: number }): Promise<Readable> {
    const res = await this.call((c) => c.send(
      new (sdk().GetObjectCommand)({ Bucket: this.loc.bucket, Key: this.objectKey(key), Range: range?.start ? `bytes=${range.start}-` : undefined })),
      `read ${key}`,
      key,
    );
    return res.Body as Readable;
  }

  async openFd(): Promise<number> {
    throw new DomainError(ErrorCode.StorageRefused, `Destination "${this.name}" is an S3 bucket: its artifacts are not local files`);
  }

  async stat(key: string): Promise<ArtifactStat | undefined> {
    try {
      const res = await this.client.send(new (sdk().HeadObjectCommand)({ Bucket: this.loc.bucket, Key: this.objectKey(key) }));
      return { key, size: Number(res.ContentLength ?? 0), modifiedAt: res.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err as SdkError)) return undefined;
      throw this.mapError(err as Error, `look up ${key}`);
    }
  }

  async delete(key: string): Promise<boolean> {
    const existed = !!(await this.stat(key));
    await this.call((c) => c.send(new (sdk().DeleteObjectCommand)({ Bucket: this.loc.bucket, Key: this.objectKey(key) })), `delete ${key}`);
    return existed;
  }

  async writeJson(key: string, value: unknown): Promise<void> {
    await this.call((c) => c.send(
      new (sdk().PutObjectCommand)({ Bucket: this.loc.bucket, Key: this.objectKey(key), Body: JSON.stringify(value, null, 2) + '\n', ContentType: 'application/json' })),
      `write ${key}`,
    );
  }

  async readJson<T>(key: string): Promise<T | undefined> {
    let res;
    try {
      res = await this.client.send(new (sdk().GetObjectCommand)({ Bucket: this.loc.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      if (isNotFound(err as SdkError)) return undefined;
      throw this.mapError(err as Error, `read ${key}`);
    }
    return JSON.parse(await res.Body!.transformToString('utf8')) as T;
  }

  async list(prefix = ''): Promise<ArtifactStat[]> {
    const out: ArtifactStat[] = [];
    let token: string | undefined;
    do {
      const res = await this.call((c) => c.send(
        new (sdk().ListObjectsV2Command)({ Bucket: this.loc.bucket, Prefix: this.loc.prefix + prefix, ContinuationToken: token })),
        'list the bucket',
      );
      for (const o of res.Contents ?? []) {
        if (!o.Key) continue;
        out.push({ key: o.Key.slice(this.loc.prefix.length), size: Number(o.Size ?? 0), modifiedAt: o.LastModified ?? new Date(0) });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async usage(): Promise<{ usedBytes: number; freeBytes: number; totalBytes: number }> {
    const used = (await this.list()).reduce((s, f) => s + f.size, 0);
    // A bucket has no free space to tell: report the used bytes as its total.
    return { usedBytes: used, freeBytes: 0, totalBytes: used };
  }

  async abortAbandonedUploads(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let aborted = 0;
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const res = await this.call((c) => c.send(
        new (sdk().ListMultipartUploadsCommand)({ Bucket: this.loc.bucket, Prefix: this.loc.prefix || undefined, KeyMarker: keyMarker, UploadIdMarker: idMarker })),
        'list unfinished uploads',
      );
      for (const u of res.Uploads ?? []) {
        if (!u.Key || !u.UploadId || (u.Initiated && u.Initiated.getTime() > cutoff)) continue;
        try {
          await this.client.send(new (sdk().AbortMultipartUploadCommand)({ Bucket: this.loc.bucket, Key: u.Key, UploadId: u.UploadId }));
        } catch (err) {
          if (errorCode(err as SdkError) !== 'NoSuchUpload') throw this.mapError(err as Error, `abort the upload of ${u.Key}`);
        }
        aborted++;
      }
      if (!res.IsTruncated) break;
      keyMarker = res.NextKeyMarker;
      idMarker = res.NextUploadIdMarker;
    }
    return aborted;
  }

  /** Runs one SDK call, its failure mapped by `mapError` (a missing `key` as ARTIFACT_MISSING). */
  private async call<T>(run: (client: S3Client) => Promise<T>, what: string, key?: string): Promise<T> {
    try {
      return await run(this.client);
    } catch (err) {
      if (key && isNotFound(err as SdkError)) throw new DomainError(ErrorCode.ArtifactMissing, `Artifact ${key} is missing from storage "${this.name}"`);
      throw this.mapError(err as Error, what);
    }
  }

  /**
   * An SDK failure said plainly, never with a secret: refused credentials and a missing bucket
   * are not retried (another attempt would fail the same way); an unreachable store may be.
   */
  mapError(err: Error, what: string): Error {
    if (err instanceof DomainError || err instanceof EngineError) return err;
    const e = err as SdkError;
    const code = errorCode(e);
    const status = e.$metadata?.httpStatusCode;
    // The SDK wraps network errors as "AWS SDK error wrapper for Error: connect ECONNREFUSED …".
    const message = (e.message || String(e)).replace(/^AWS SDK error wrapper for (?:\w*Error: )?/, '');
    const said = redact(`${code && !message.startsWith(code) ? `${code}: ` : ''}${message}`, this.secrets).slice(0, 300);
    const env = `BACKUP_STORAGE_${this.name.toUpperCase()}`;
    if (DENIED.has(code ?? '') || e.name === 'CredentialsProviderError' || status === 403) {
      return new EngineError(`storage "${this.name}" (${this.location}) refused the credentials; check ${env}_ACCESS_KEY_ID and ${env}_SECRET_ACCESS_KEY_FILE (${said})`, { retryable: false });
    }
    if (code === 'NoSuchBucket') {
      return new EngineError(`storage "${this.name}": the bucket "${this.loc.bucket}" does not exist at ${this.location}; create it or fix ${env}_URL`, { retryable: false });
    }
    if (e.name === 'AbortError') return new EngineError(`storage "${this.name}": could not ${what}: the upload was aborted`, { retryable: true });
    if (/\b(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN)\b/.test(message)) {
      return new EngineError(`storage "${this.name}" (${this.location}): could not ${what}: the server did not answer (${said}); check that it is up and reachable from here, and the endpoint in ${env}_URL`, { retryable: true });
    }
    return new EngineError(`storage "${this.name}" (${this.location}): could not ${what}: ${said}`, { retryable: true });
  }
}

function errorCode(e: SdkError): string | undefined {
  return e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined) ?? e.code;
}

function isNotFound(e: SdkError): boolean {
  const code = errorCode(e);
  return code === 'NoSuchKey' || code === 'NotFound' || (e.$metadata?.httpStatusCode === 404 && code !== 'NoSuchBucket');
}
