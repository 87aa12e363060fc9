import { createHash } from 'node:crypto';
import { fdatasync, read } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const readAt = promisify(read);
const dataSync = promisify(fdatasync);
const CHUNK = 1 << 20;
/** How long to wait, once caught up with the writer, before reading again. */
const POLL_MS = 20;

export interface FileDigest {
  bytes: number;
  sha256: string;
}

/**
 * SHA-256 and length of the file behind `fd`, read with positioned reads into one reused buffer
 * (no per-chunk garbage). With `writer`, the file is still being written by another process:
 * reading follows behind it and ends at end-of-file once `writer` has settled, so the digest
 * covers exactly what was written. `onProgress` gets the bytes read so far, at most every second.
 *
 * `flushEvery` (bytes): while following a writer, starts an `fdatasync` each time that much more
 * has been written, so the disk takes the artifact while it is produced and the final fsync of
 * the commit has only the tail left (with lots of RAM the kernel would otherwise hold it all).
 */
export async function hashFile(
  fd: number,
  opts: { writer?: Promise<unknown>; signal?: AbortSignal; onProgress?: (bytes: number) => void; flushEvery?: number } = {},
): Promise<FileDigest> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  let settled = !opts.writer;
  const writerSettled = opts.writer?.then(
    () => void (settled = true),
    () => void (settled = true),
  );
  let pos = 0;
  let reported = Date.now();
  let flushedAt = 0;
  let flushing: Promise<void> | undefined;
  let flushError: Error | undefined;
  const flush = () => {
    flushedAt = pos;
    flushing = dataSync(fd).then(
      () => void (flushing = undefined),
      (err: Error) => void ((flushError ??= err), (flushing = undefined)),
    );
  };
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      if (flushError) throw flushError;
      // Read `settled` before reading the file: a short read after the writer settled is the end.
      const final = settled;
      const { bytesRead } = await readAt(fd, buf, 0, CHUNK, pos);
      if (bytesRead > 0) {
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
        if (opts.flushEvery && opts.writer && !flushing && pos - flushedAt >= opts.flushEvery) flush();
        if (opts.onProgress && Date.now() - reported >= 1000) {
          reported = Date.now();
          opts.onProgress(pos);
        }
        continue;
      }
      if (final) break;
      await Promise.race([sleep(POLL_MS), writerSettled]);
    }
  } finally {
    // Never leave an fdatasync running on a descriptor the caller is about to close.
    await flushing;
  }
  if (flushError) throw flushError;
  return { bytes: pos, sha256: hash.digest('hex') };
}
