import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChecksumMismatchError, type ChecksumGate } from '../codecs/checksum-gate.js';
import { decompressor, zstdDecompressTo, type Codec } from '../codecs/compression.js';
import { hashFile } from '../codecs/file-hash.js';
import { MeasureTap } from '../codecs/tap.js';
import { EngineError } from '../common/errors.js';
import type { ProcessRunner } from '../common/process-runner.js';
import type { Compression } from '../config/options.js';
import type { DirectOutput, RestoreInput } from '../engines/restorer.interface.js';

/**
 * The artifact as a `RestoreInput`: storage → checksum gate → [age] → decompressor. The
 * decompressor starts only when the restorer first takes the chain (`transforms`), or, for zstd,
 * takes `direct` instead: then zstd writes the dump straight to a file or to the restore
 * client's stdin, and no decompressed byte passes through this process.
 */
export function restoreInput(
  source: Readable,
  gate: ChecksumGate,
  decrypt: Codec | undefined,
  compression: Compression,
  rawBytes: number | null,
  runner: ProcessRunner,
  /** The artifact is a local file and this is its descriptor (at offset 0): see `direct`. */
  file?: { fd: number; checksum: string },
): RestoreInput {
  // With `file`, `direct` checks the SHA-256 itself (positioned reads, beside zstd's own reads).
  let hashedFile: Promise<void> | undefined;
  let chain: { transforms: RestoreInput['transforms']; done: Promise<void>[]; codecDone: Promise<void>; raw: () => number | undefined } | undefined;
  const open = () => {
    if (!chain) {
      const codec = decompressor(compression, runner);
      const tap = new MeasureTap();
      chain = {
        transforms: [gate, ...(decrypt ? [decrypt.stream] : []), codec.stream, tap],
        done: [...(decrypt ? [decrypt.done] : []), codec.done],
        codecDone: codec.done,
        raw: () => tap.bytes,
      };
    }
    return chain;
  };
  const input: RestoreInput = {
    source,
    settled: async () => void (await hashedFile?.catch(() => undefined)),
    get transforms() {
      return open().transforms;
    },
    get done() {
      return open().done;
    },
    rawBytes,
    verified: async () => {
      const c = open();
      if (hashedFile) {
        await hashedFile.catch((err: Error) => {
          throw new EngineError(`the artifact ${/checksum mismatch/.test(err.message) ? 'failed its' : 'could not be read for its'} checksum (${err.message}); nothing was restored`, { retryable: false });
        });
      } else if (!gate.passed) throw new EngineError('the artifact was not read to its end; nothing was restored', { retryable: false });
      await decrypt?.done.catch((err: Error) => {
        throw new EngineError(`the artifact did not decrypt to its end (${err.message}); nothing was restored`, { retryable: false });
      });
      await c.codecDone.catch((err: Error) => {
        throw new EngineError(`the artifact did not decompress to its end (${err.message}); nothing was restored`, { retryable: false });
      });
      const raw = c.raw();
      if (rawBytes !== null && raw !== rawBytes) {
        throw new EngineError(`the artifact decompressed to ${raw ?? 'an unknown number of'} bytes, but ${rawBytes} were dumped; nothing was restored`, { retryable: false });
      }
    },
  };
  if (compression === 'zstd') {
    input.direct = (output, signal) => {
      if (chain) throw new Error('the restore input was already opened as a stream');
      if (file && !decrypt) {
        // zstd reads the file itself while this process hashes it with positioned reads (both
        // from the page cache): no artifact byte passes through a stream here.
        source.destroy();
        const zstd = zstdDecompressTo(runner, output, signal, file.fd);
        const hashed = hashFile(file.fd, { signal }).then(({ sha256 }) => {
          if (sha256 !== file.checksum) throw new ChecksumMismatchError(file.checksum, sha256);
        });
        hashed.catch(() => zstd.kill());
        hashedFile = hashed;
        // A damaged file usually makes zstd fail first (its own frame checksum): the SHA-256's
        // verdict, which names what is wrong with the artifact, is the one reported.
        const done = Promise.allSettled([hashed, zstd.done]).then(([h, z]) => {
          if (h.status === 'rejected') throw h.reason;
          if (z.status === 'rejected') throw z.reason;
        });
        done.catch(() => undefined);
        chain = { transforms: [], done: [done], codecDone: done, raw: zstd.outputBytes };
        return { stdout: zstd.stdout, done } satisfies DirectOutput;
      }
      const zstd = zstdDecompressTo(runner, output, signal);
      // Compressed bytes only pass through here: storage → gate → [age] → zstd's stdin.
      const fed = pipeline([source, gate, ...(decrypt ? [decrypt.stream] : []), zstd.stdin!] as unknown as NodeJS.ReadWriteStream[], { signal }).catch((err: Error) => {
        zstd.kill();
        throw err;
      });
      const done = Promise.all([fed, zstd.done]).then(() => undefined);
      done.catch(() => undefined);
      chain = { transforms: [], done: [done], codecDone: done, raw: zstd.outputBytes };
      return { stdout: zstd.stdout, done } satisfies DirectOutput;
    };
  }
  return input;
}
