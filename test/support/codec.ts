import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';

/** Decompresses an artifact the way a user would from the shell. */
export function decompress(bytes: Buffer, compression: string): Buffer {
  if (compression === 'gzip') return gunzipSync(bytes);
  if (compression === 'none') return bytes;
  const r = spawnSync('zstd', ['-d', '-q', '-c'], { input: bytes, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd -d failed: ${r.stderr}`);
  return r.stdout;
}
