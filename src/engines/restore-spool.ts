import { closeSync, createWriteStream, openSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { EngineError } from '../common/errors.js';
import { withPrivateDir } from '../common/secure-fs.js';
import type { RestoreInput } from './restorer.interface.js';

/** Room left beside the file, so that unpacking never fills the temp disk to its last byte. */
const SPARE_BYTES = 64 << 20;

/**
 * Unpacks a dump into a 0600 file in a private directory under `tempRoot` (swept by a later
 * worker if this one dies), and runs `fn` with its path only once the whole dump passed every
 * check (`input.verified()`): whatever reads the file sees a verified archive, never a prefix.
 * The file is a seekable copy (what `pg_restore -j` needs). It is removed afterwards.
 * @throws EngineError when the temp disk lacks room (checked first when the size is known).
 */
export async function withSpooledDump<T>(tempRoot: string, input: RestoreInput, signal: AbortSignal, fn: (path: string) => Promise<T>): Promise<T> {
  return withPrivateDir(tempRoot, 'spool', async (dir) => {
    const need = input.rawBytes ?? undefined;
    if (need !== undefined) {
      const fs = await statfs(dir);
      const free = fs.bavail * fs.bsize;
      if (free < need + SPARE_BYTES) {
        discardInput(input);
        throw new EngineError(
          `not enough room in the temp directory ${tempRoot} to unpack the archive: it needs ${need} bytes (plus ${SPARE_BYTES} spare), ${free} are free; free space there or set TEMP_DIR to a larger disk. Nothing was restored`,
          { retryable: false },
        );
      }
    }
    const path = join(dir, 'dump');
    try {
      if (input.direct) {
        // zstd writes the file itself: only the compressed bytes pass through this process.
        const fd = openSync(path, 'wx', 0o600);
        let done: Promise<void>;
        try {
          done = input.direct(fd, signal).done;
        } finally {
          closeSync(fd); // zstd holds its own copy
        }
        await done;
      } else {
        const out = createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 });
        await pipeline([input.source, ...input.transforms, out] as unknown as NodeJS.ReadWriteStream[], { signal });
      }
    } catch (err) {
      for (const p of input.done) p.catch(() => undefined);
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOSPC' || /No space left on device/i.test(e.message)) {
        throw new EngineError(`the temp directory ${tempRoot} ran out of space while unpacking the archive; free space there or set TEMP_DIR to a larger disk. Nothing was restored`, { retryable: false });
      }
      if (signal.aborted) throw new EngineError(`unpacking the archive was aborted: ${String(signal.reason instanceof Error ? signal.reason.message : signal.reason)}`, { retryable: false });
      throw e instanceof EngineError ? e : new EngineError(`could not unpack the archive (${e.message}); nothing was restored`, { retryable: false });
    }
    await input.verified();
    return fn(path);
  });
}

/** Releases a dump stream that will not be read. */
export function discardInput(input: RestoreInput): void {
  for (const p of input.done) p.catch(() => undefined);
  for (const s of [input.source, ...input.transforms]) s.on('error', () => undefined).destroy();
}
