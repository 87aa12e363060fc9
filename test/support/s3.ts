import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SERVER = join(process.cwd(), 'test/support/s3-server.mjs');

/** A real S3 protocol server (s3rver) in a child process on a loopback port, for one test file. */
export interface TestS3 {
  port: number;
  endpoint: string;
  bucket: string;
  dir: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A file holding the secret (BACKUP_STORAGE_<NAME>_SECRET_ACCESS_KEY_FILE). */
  secretFile: string;
  pid: number;
  /** The storage URL of `bucket` under `prefix`. */
  url(prefix?: string): string;
  /** The environment of a destination `name` on this server. */
  env(name: string, prefix?: string): Record<string, string>;
  client: S3Client;
  /** Keys of the objects under `prefix`. */
  keys(prefix?: string): Promise<string[]>;
  /** Unfinished multipart uploads in the bucket. */
  uploads(): Promise<Array<{ key: string; uploadId: string }>>;
  /** SIGKILLs the server (a crash: sockets reset, nothing flushed). */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function spawnServer(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [SERVER], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`the S3 test server exited (${code}): ${err}`)));
  });
  child.removeAllListeners('exit');
  return { child, port };
}

export async function startS3(opts: { bucket?: string; dir?: string } = {}): Promise<TestS3> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'bm-s3-'));
  const bucket = opts.bucket ?? 'backups';
  const accessKeyId = `AK${randomBytes(6).toString('hex').toUpperCase()}`;
  const secretAccessKey = `sk-${randomBytes(18).toString('hex')}`;
  const secretFile = join(dir, '..', `${randomBytes(4).toString('hex')}.secret`);
  writeFileSync(secretFile, `${secretAccessKey}\n`, { mode: 0o600 });
  const base = { S3_DIR: dir, S3_BUCKETS: bucket, S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey };
  const started = await spawnServer({ ...base, S3_PORT: '0' });
  const port = started.port;
  let child = started.child;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r())));
  const s3: TestS3 = {
    port,
    endpoint,
    bucket,
    dir,
    accessKeyId,
    secretAccessKey,
    secretFile,
    get pid() {
      return child.pid!;
    },
    url: (prefix = '') => `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1&forcePathStyle=true`,
    env: (name, prefix = '') => ({
      [`BACKUP_STORAGE_${name.toUpperCase()}_URL`]: s3.url(prefix),
      [`BACKUP_STORAGE_${name.toUpperCase()}_ACCESS_KEY_ID`]: accessKeyId,
      [`BACKUP_STORAGE_${name.toUpperCase()}_SECRET_ACCESS_KEY_FILE`]: secretFile,
    }),
    client,
    keys: async (prefix = '') => {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        out.push(...(res.Contents ?? []).map((o) => o.Key!));
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
      return out.sort();
    },
    uploads: async () => {
      const res = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (res.Uploads ?? []).map((u) => ({ key: u.Key!, uploadId: u.UploadId! }));
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
    restart: async () => {
      ({ child } = await spawnServer({ ...base, S3_PORT: String(port) }));
    },
    stop: async () => {
      client.destroy();
      child.kill('SIGKILL');
      await exited(child);
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
      rmSync(secretFile, { force: true });
    },
  };
  return s3;
}
