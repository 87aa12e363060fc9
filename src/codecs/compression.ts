import type { ChildProcess, StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
 * A zstd child that is killed when `signal` aborts; `done` resolves with its stderr once it has
 * exited 0 and rejects with `what` and zstd's last message otherwise.
 */
function zstdChild(
  runner: ProcessRunner,
  args: string[],
  stdio: StdioOptions,
  what: string,
  retryable: boolean,
  signal?: AbortSignal,
): { child: ChildProcess; done: Promise<string> } {
  const child = runner.spawn('zstd', args, { env: {}, stdio });
  const kill = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  signal?.addEventListener('abort', kill, { once: true });
  const done = runner.wait(child).then(({ code, signal: killedBy, stderr }) => {
    signal?.removeEventListener('abort', kill);
    if (code !== 0) throw new EngineError(`${what} failed (${killedBy ?? `exit ${code}`}): ${lastLine(stderr)}`, { retryable });
    return stderr;
  });
  done.catch(() => undefined);
  return { child, done };
}

/** The last message zstd printed (its progress lines end in carriage returns, not newlines). */
function lastLine(stderr: string): string {
  return (
    stderr
      .split(/[\r\n]+/)
      .map((l) => l.trim())
      .filter(Boolean)
      .pop() ?? 'no message'
  );
}

/**
 * `producer | zstd > file`: zstd reads the dump client's stdout pipe and writes the file behind
 * `output` (a descriptor) itself (or a pipe to the next stage, such as age), so neither the dump nor the artifact passes through this
 * process. `inputBytes` is read from zstd's own summary (`-vv`) once it exits; `bytesReadSoFar`
 * is the running count while it works (its read count in /proc, see `bytesReadBy`).
 */
export function zstdFromPipe(
  runner: ProcessRunner,
  input: Readable,
  output: number | 'pipe',
  level: number,
  signal?: AbortSignal,
): { done: Promise<void>; inputBytes: () => number | undefined; bytesReadSoFar: () => number | undefined; stdout: Readable | null } {
  const { child, done: exited } = zstdChild(runner, [`-${level}`, '-vv', '-c'], [input as never, output, 'pipe'], 'zstd', true, signal);
  // Our copy of the pipe's read end must go, or the producer would block (not fail) if zstd died.
  input.destroy();
  let inputBytes: number | undefined;
  const done = exited.then((stderr) => {
    const m = /\(\s*(\d+) B\s*=>\s*(\d+) B/.exec(stderr);
    inputBytes = m ? Number(m[1]) : undefined;
  });
  done.catch(() => undefined);
  return {
    done,
    /** With `output: 'pipe'`: zstd's stdout, for the next stage (age) to read. */
    stdout: child.stdout,
    inputBytes: () => inputBytes,
    bytesReadSoFar: () => (child.pid !== undefined && child.exitCode === null ? bytesReadBy(child.pid) : undefined),
  };
}

/**
 * Bytes a process has read through read(2) so far: `rchar` of /proc/<pid>/io (Linux). For zstd
 * reading a dump from its stdin pipe, that is the dump's raw bytes so far (plus the few it read
 * starting up). Undefined where /proc is not readable.
 */
export function bytesReadBy(pid: number): number | undefined {
  try {
    const m = /^rchar:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `zstd -t`: checks that the input decompresses to the end, without a decompressed byte passing
 * through this process; `outputBytes` comes from zstd's summary. `input` is a descriptor it reads
 * itself (a local file), or `'pipe'`: then write the compressed bytes into `stdin`.
 */
export function zstdTester(
  runner: ProcessRunner,
  input: number | 'pipe',
  signal?: AbortSignal,
): { done: Promise<void>; outputBytes: () => number | undefined; stdin: Writable | null } {
  let outputBytes: number | undefined;
  const { child, done: exited } = zstdChild(runner, ['-t', '-vv'], [input, 'ignore', 'pipe'], 'zstd -t', false, signal);
  const done = exited.then((stderr) => {
    const m = /:\s*(\d+) bytes\s*$/m.exec(stderr);
    outputBytes = m ? Number(m[1]) : undefined;
  });
  done.catch(() => undefined);
  return { done, outputBytes: () => outputBytes, stdin: child.stdin };
}

/**
 * `zstd -d` whose output goes straight to `output` (a descriptor, e.g. a file) or to a pipe for
 * another child to read (`'pipe'`: pass `stdout` as that child's stdin), so decompressed bytes
 * never pass through this process. It reads `input`, a descriptor (a local artifact file, read
 * from its current offset), or with `'pipe'` the compressed bytes fed to `stdin`; `outputBytes`
 * comes from zstd's summary once it exited 0.
 */
export function zstdDecompressTo(
  runner: ProcessRunner,
  output: number | 'pipe',
  signal?: AbortSignal,
  input: number | 'pipe' = 'pipe',
): { stdin: Writable | null; stdout: Readable | null; done: Promise<void>; outputBytes: () => number | undefined; kill(): void } {
  let outputBytes: number | undefined;
  const { child, done: exited } = zstdChild(runner, ['-d', '-vv', '-c'], [input, output, 'pipe'], 'zstd -d', false, signal);
  const done = exited.then((stderr) => {
    const m = /:\s*(\d+) bytes\s*$/m.exec(stderr);
    outputBytes = m ? Number(m[1]) : undefined;
  });
  done.catch(() => undefined);
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    done,
    outputBytes: () => outputBytes,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
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
    if (code !== 0) throw new EngineError(`zstd failed (${signal ?? `exit ${code}`}): ${stderr || 'no message'}`, { retryable: true });
  });
  done.catch(() => undefined);
  // Destroyed before its output ended (an error elsewhere in the pipeline): stop the child too.
  stream.once('close', () => {
    if (!stream.readableEnded && child.exitCode === null) child.kill('SIGKILL');
  });
  return { stream, done };
}
