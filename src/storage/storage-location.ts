import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Names of destinations: lower-case, as in `BACKUP_STORAGE_<NAME>_URL`. */
export const STORAGE_NAME = /^[a-z0-9_]{1,32}$/;

export interface LocalLocation {
  kind: 'local';
  dir: string;
}

export interface S3Location {
  kind: 's3';
  bucket: string;
  /** Key prefix inside the bucket: empty, or ending in `/`. */
  prefix: string;
  /** Custom endpoint (MinIO, R2, B2, Ceph, ...); none means AWS. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
}

export type StorageLocation = LocalLocation | S3Location;

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const S3_PARAMS = ['endpoint', 'region', 'forcePathStyle'];

/**
 * Reads a destination URL: `file:///abs/dir` or
 * `s3://bucket/prefix?endpoint=https://host:port&region=eu-west-1&forcePathStyle=true`.
 * @throws an Error saying what is wrong and what to write instead.
 */
export function parseStorageUrl(raw: string): StorageLocation {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('is not a URL (expected file:///absolute/dir or s3://bucket/prefix?endpoint=…&region=…)');
  }
  if (url.protocol === 'file:') {
    if (url.search || url.hash) throw new Error('a file:// URL takes no query or fragment');
    if (url.host) throw new Error('a file:// URL needs an absolute path with three slashes: file:///var/backups');
    const dir = fileURLToPath(url);
    if (!isAbsolute(dir) || dir === '/') throw new Error('a file:// URL needs an absolute directory other than /');
    return { kind: 'local', dir: dir.replace(/\/+$/, '') };
  }
  if (url.protocol !== 's3:') throw new Error(`must use file:// or s3:// (got ${url.protocol}//)`);
  if (url.username || url.password) throw new Error('an s3:// URL must not hold credentials; use ACCESS_KEY_ID and SECRET_ACCESS_KEY_FILE');
  const bucket = url.hostname;
  if (!BUCKET.test(bucket) || bucket.includes('..')) throw new Error(`"${bucket}" is not a valid bucket name (3-63 lower-case letters, digits, dots and hyphens)`);
  const segments = decodeURIComponent(url.pathname).split('/').filter(Boolean);
  const bad = segments.find((s) => !PREFIX_SEGMENT.test(s) || s.includes('..'));
  if (bad !== undefined) throw new Error(`the key prefix segment "${bad}" is not allowed (letters, digits, dot, dash, underscore)`);
  const unknown = [...url.searchParams.keys()].filter((k) => !S3_PARAMS.includes(k));
  if (unknown.length) throw new Error(`unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${S3_PARAMS.join(', ')})`);
  const endpoint = url.searchParams.get('endpoint') || undefined;
  if (endpoint) {
    let e: URL;
    try {
      e = new URL(endpoint);
    } catch {
      throw new Error(`endpoint "${endpoint}" is not a URL (expected https://host[:port])`);
    }
    if (e.protocol !== 'http:' && e.protocol !== 'https:') throw new Error('endpoint must be an http:// or https:// URL');
    if (e.username || e.password) throw new Error('endpoint must not hold credentials');
  }
  const style = url.searchParams.get('forcePathStyle');
  if (style !== null && !['true', 'false', '1', '0'].includes(style)) throw new Error('forcePathStyle must be true or false');
  return {
    kind: 's3',
    bucket,
    prefix: segments.length ? `${segments.join('/')}/` : '',
    endpoint,
    region: url.searchParams.get('region') || 'us-east-1',
    forcePathStyle: style === 'true' || style === '1',
  };
}

/** Where a destination is, without secrets: `s3://bucket/prefix (endpoint …)` or the directory. */
export function describeLocation(l: StorageLocation): string {
  if (l.kind === 'local') return l.dir;
  const where = `s3://${l.bucket}/${l.prefix}`;
  return l.endpoint ? `${where} at ${new URL(l.endpoint).origin} (${l.region})` : `${where} (AWS ${l.region})`;
}
