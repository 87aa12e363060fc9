import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ProcessRunner } from '../common/process-runner.js';
import type { Compression } from '../config/options.js';
import type { ArtifactWriter } from '../storage/storage.interface.js';
import { compressor, zstdFromPipe } from './compression.js';
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
 * Compresses a dump into an artifact writer. With zstd and nothing to observe in the raw
 * stream, zstd reads the dump client's pipe and writes the file itself (`pg_dump | zstd >
 * file`): no dump or artifact byte passes through this process; its summary gives the raw size
 * and the file is hashed by reading it back right behind zstd (from the page cache). Otherwise
 * the bytes stream through here: raw tap, taps, compressor, hashing tap, writer (a file, an S3
 * upload, or several destinations at once: the writer has no descriptor then).
 */
export function writeArtifact(writer: ArtifactWriter, compression: Compression, level: number, runner: ProcessRunner): ArtifactWrite {
  const raw = new MeasureTap();
  const out = new MeasureTap({ sha256: true });
  let direct: { inputBytes: () => number | undefined; bytesReadSoFar: () => number | undefined } | undefined;
  let hashed: { sha256: string; bytes: number } | undefined;
  return {
    async write(stdout, signal, taps = []) {
      const fd = writer.fd;
      if (compression === 'zstd' && !taps.length && fd !== undefined) {
        const codec = zstdFromPipe(runner, stdout, fd, level, signal);
        direct = codec;
        [hashed] = await Promise.all([hashFile(fd, { writer: codec.done, signal, flushEvery: FLUSH_EVERY }), codec.done]);
        return;
      }
      const codec = compressor(compression, runner, level);
      await Promise.all([pipeline([stdout, raw, ...taps, codec.stream, out, writer.stream] as unknown as NodeJS.ReadWriteStream[], { signal }), codec.done]);
    },
    rawBytesSoFar: () => (direct ? direct.bytesReadSoFar() : raw.bytes),
    result: () =>
      hashed
        ? { sha256: hashed.sha256, bytes: hashed.bytes, rawBytes: direct!.inputBytes() ?? null }
        : { sha256: out.digest(), bytes: out.bytes, rawBytes: raw.bytes },
  };
}
