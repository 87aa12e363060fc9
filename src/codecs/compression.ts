import { Duplex, PassThrough, type Readable, type Transform, type Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { EngineError } from '../common/errors.js';
import type { ProcessRunner } from '../common/process-runner.js';
import type { Compression } from '../config/options.js';

export const EXTENSION: Record<Compression, string> = { zstd: '.zst', gzip: '.gz', none: '' };

export interface Codec {
  stream: Duplex | Transform;
  /** Settles when the codec has finished (for zstd: the child process exited 0). */
  done: Promise<void>;
}

/**
 * zstd reading straight from a producer's stdout pipe: the uncompressed bytes flow from the dump
 * client to zstd through the kernel, never through this process (as in `pg_dump | zstd`).
 * `stream` is readable only; `inputBytes` is read from zstd's own summary (`-vv`) once it exits.
 */
export function zstdFromPipe(runner: ProcessRunner, input: Readable, level: number): Codec & { readable: Readable; inputBytes: () => number | undefined } {
  const child = runner.spawn('zstd', [`-${level}`, '-vv', '-c'], { env: {}, stdio: [input as never, 'pipe', 'pipe'] });
  // Our copy of the pipe's read end must go, or the producer would block (not fail) if zstd died.
  input.destroy();
  let summary = '';
  let inputBytes: number | undefined;
  const done = runner.wait(child).then(({ code, signal, stderr }) => {
    summary = stderr;
    if (code !== 0) throw new EngineError(`zstd failed (${signal ?? `exit ${code}`}): ${stderr.split('\n').pop() || 'no message'}`, true);
    const m = /\(\s*(\d+) B\s*=>\s*(\d+) B/.exec(summary);
    inputBytes = m ? Number(m[1]) : undefined;
  });
  done.catch(() => undefined);
  const readable = child.stdout!;
  readable.once('close', () => {
    if (!readable.readableEnded && child.exitCode === null) child.kill('SIGKILL');
  });
  return { stream: readable as unknown as Duplex, readable, done, inputBytes: () => inputBytes };
}

/**
 * `zstd -t`: checks that what is written to `stream` decompresses to the end, without the
 * decompressed bytes passing through this process; `outputBytes` comes from zstd's summary.
 */
export function zstdTester(runner: ProcessRunner): { stream: Writable; done: Promise<void>; outputBytes: () => number | undefined } {
  const child = runner.spawn('zstd', ['-t', '-vv'], { env: {}, stdio: ['pipe', 'ignore', 'pipe'] });
  let outputBytes: number | undefined;
  const done = runner.wait(child).then(({ code, signal, stderr }) => {
    if (code !== 0) throw new EngineError(`zstd -t failed (${signal ?? `exit ${code}`}): ${stderr.split('\n').pop() || 'no message'}`, false);
    const m = /:\s*(\d+) bytes\s*$/m.exec(stderr);
    outputBytes = m ? Number(m[1]) : undefined;
  });
  done.catch(() => undefined);
  return { stream: child.stdin!, done, outputBytes: () => outputBytes };
}

/**
 * Compression as a stream transform. zstd runs the `zstd` binary (Node 20 has no zstd in zlib);
 * gzip runs in-process on zlib.
 */
export function compressor(kind: Compression, runner: ProcessRunner, level: number): Codec {
  if (kind === 'gzip') return zlibCodec(createGzip({ level }));
  if (kind === 'none') return zlibCodec(new PassThrough());
  return zstdCodec(runner, [`-${level}`, '-q', '-c']);
}

export function decompressor(kind: Compression, runner: ProcessRunner): Codec {
  if (kind === 'gzip') return zlibCodec(createGunzip());
  if (kind === 'none') return zlibCodec(new PassThrough());
  return zstdCodec(runner, ['-d', '-q', '-c']);
}

function zlibCodec(stream: Transform): Codec {
  const done = new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  done.catch(() => undefined);
  return { stream, done };
}

function zstdCodec(runner: ProcessRunner, args: string[]): Codec {
  const child = runner.spawn('zstd', args, { env: {}, stdio: ['pipe', 'pipe', 'pipe'] });
  const stream = Duplex.from({ writable: child.stdin!, readable: child.stdout! });
  const done = runner.wait(child).then(({ code, signal, stderr }) => {
    if (code !== 0) throw new EngineError(`zstd failed (${signal ?? `exit ${code}`}): ${stderr || 'no message'}`, true);
  });
  done.catch(() => undefined);
  // Destroyed before its output ended (an error elsewhere in the pipeline): stop the child too.
  stream.once('close', () => {
    if (!stream.readableEnded && child.exitCode === null) child.kill('SIGKILL');
  });
  return { stream, done };
}
