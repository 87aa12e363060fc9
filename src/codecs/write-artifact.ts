import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ProcessRunner } from '../common/process-runner.js';
import type { Compression } from '../config/options.js';
import type { ArtifactWriter } from '../storage/storage.interface.js';
import { compressor, zstdFromPipe } from './compression.js';
import { ageFromPipe, encryptor } from './encryption.js';
import type { ArtifactEncryption } from './encryption-keys.js';
import { hashFile } from './file-hash.js';
import { MeasureTap } from './tap.js';

/** Bytes of artifact between early flushes to disk while zstd writes it (see `hashFile`). */
const FLUSH_EVERY = 32 * 2 ** 20;

/** What was written, once the write finished. */
export interface WrittenArtifact {
  sha256: string;
  /** Compressed bytes: the artifact's size. */
  bytes: number;
  /** Dump bytes before compression; null where the codec did not say. */
  rawBytes: number | null;
}

export interface ArtifactWrite {
  /**
   * Writes a dump client's stdout, compressed, into the artifact; `taps` see the raw bytes on
   * the way (a row counter). Resolves once every byte is in the file and the codec exited 0.
   */
  write(stdout: Readable, signal: AbortSignal, taps?: Transform[]): Promise<void>;
  /** Raw bytes read so far (progress); undefined where it cannot be known yet. */
  rawBytesSoFar(): number | undefined;
  /** Size, hash and raw size; call after `write` resolved. */
  result(): WrittenArtifact;
}

/**
 * Compresses (and, with `encryption`, encrypts) a dump into an artifact writer. With zstd and
 * nothing to observe in the raw stream, zstd reads the dump client's pipe itself, so no dump byte
 * passes through this process; zstd's summary gives the raw size. Into a local file, zstd (or age
 * behind it) writes the file too (`pg_dump | zstd > file`, `… | age -r … > file`), which is hashed
 * by reading it back right behind the writer (from the page cache). Into a writer without a
 * descriptor (an S3 upload, several destinations at once), or with a passphrase, only the
 * compressed bytes stream through here: [encryptor], hashing tap, writer. Otherwise (gzip, none,
 * taps on the raw stream) every byte does: raw tap, taps, compressor, encryptor, hashing tap,
 * writer. The SHA-256 always covers the stored bytes (the ciphertext when encrypted).
 */
export function writeArtifact(writer: ArtifactWriter, compression: Compression, level: number, runner: ProcessRunner, encryption?: ArtifactEncryption): ArtifactWrite {
  const raw = new MeasureTap();
  const out = new MeasureTap({ sha256: true });
  let direct: { inputBytes: () => number | undefined; bytesReadSoFar: () => number | undefined } | undefined;
  let hashed: { sha256: string; bytes: number } | undefined;
  return {
    async write(stdout, signal, taps = []) {
      if (compression === 'zstd' && !taps.length) {
        const fd = writer.fd;
        if (fd === undefined || encryption?.mode === 'scrypt') {
          // zstd still reads the dump client's pipe itself: only the compressed bytes pass
          // through here, on their way to the writer (an upload, several destinations) or to the
          // passphrase encryption (age reads passphrases only from a terminal).
          const codec = zstdFromPipe(runner, stdout, 'pipe', level, signal);
          direct = codec;
          const enc = encryption ? encryptor(encryption, runner) : undefined;
          await Promise.all([pipeline([codec.stdout!, ...(enc ? [enc.stream] : []), out, writer.stream] as unknown as NodeJS.ReadWriteStream[], { signal }), codec.done, enc?.done]);
          return;
        }
        const codec = zstdFromPipe(runner, stdout, encryption ? 'pipe' : fd, level, signal);
        direct = codec;
        const written = encryption ? Promise.all([codec.done, ageFromPipe(runner, codec.stdout!, fd, encryption, signal).done]) : codec.done;
        written.catch(() => undefined);
        [hashed] = await Promise.all([hashFile(fd, { writer: written, signal, flushEvery: FLUSH_EVERY }), written]);
        return;
      }
      const codec = compressor(compression, runner, level);
      const enc = encryption ? encryptor(encryption, runner) : undefined;
      const chain = [stdout, raw, ...taps, codec.stream, ...(enc ? [enc.stream] : []), out, writer.stream];
      await Promise.all([pipeline(chain as unknown as NodeJS.ReadWriteStream[], { signal }), codec.done, enc?.done]);
    },
    rawBytesSoFar: () => (direct ? direct.bytesReadSoFar() : raw.bytes),
    result: () => {
      if (hashed) return { sha256: hashed.sha256, bytes: hashed.bytes, rawBytes: direct!.inputBytes() ?? null };
      if (direct) return { sha256: out.digest(), bytes: out.bytes, rawBytes: direct.inputBytes() ?? null };
      return { sha256: out.digest(), bytes: out.bytes, rawBytes: raw.bytes };
    },
  };
}
