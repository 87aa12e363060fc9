import type { ChildProcess } from 'node:child_process';
import { Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChecksumMismatchError } from '../codecs/checksum-gate.js';
import { EngineError } from '../common/errors.js';
import type { ProcessRunner } from '../common/process-runner.js';
import type { RestoreInput, RestoreRunOptions } from './restorer.interface.js';

/** How the client's input ends once every byte has passed every check. */
export interface ClientCommit {
  /** Written last, and only then: for psql, the statement that satisfies the commit gate and COMMITs. */
  tail?: string;
  /** Called right before `tail` is written (a failure stops the restore there). */
  before?: () => Promise<void>;
  /**
   * The caller commits in a step of its own once the client exited 0 (MySQL's swap out of a
   * scratch database), so the client may read an end of input before `input.verified()`: then,
   * with no `extra` stage, a zstd artifact goes from zstd straight into the client's stdin.
   */
  separate?: boolean;
}

/** Why a restore client was stopped: `aborted` means the caller's signal (shutdown, lost lock). */
export class RestoreStoppedError extends EngineError {
  constructor(
    message: string,
    readonly aborted: boolean,
  ) {
    super(message, { retryable: false });
    this.name = 'RestoreStoppedError';
  }
}

/**
 * Feeds a restore client's stdin from `input`. Its stdin is ended only after the chain finished,
 * `input.verified()` confirmed every byte (checksum, codec exit status, size) and `commit.before`
 * passed, and then with `commit.tail` written first: no end of input before that point can be
 * read as "done". On any failure before it the client is SIGKILLed, so the server sees a dropped
 * connection and rolls back; if this process dies instead, the client reads an end of input
 * without the tail (or is killed with it). Once the tail is written, an abort no longer stops the
 * client: it finishes, and its own exit status is the outcome. `classify` turns the client's own
 * failure (non-zero exit) into the reason, unless the artifact failed its checksum: the client
 * may have choked on the damaged bytes and exited before that verdict arrived (zstd feeding it
 * directly while this process still hashes the file), and the damage is what the operator must
 * hear about.
 */
export async function runRestoreClient(
  runner: ProcessRunner,
  command: string,
  args: string[],
  env: Record<string, string>,
  input: RestoreInput,
  extra: Duplex[],
  run: RestoreRunOptions,
  classify: (stderr: string, code: number | null) => EngineError,
  commit: ClientCommit = {},
): Promise<void> {
  if (run.signal.aborted) throw new RestoreStoppedError(`restore aborted before start: ${reasonText(run.signal.reason)}`, true);
  const direct = commit.separate && !commit.tail && !extra.length && input.direct ? input.direct('pipe', run.signal) : undefined;
  const child = runner.spawn(command, args, { env, stdio: [direct ? direct.stdout! : 'pipe', 'ignore', 'pipe'] });
  // The client holds the pipe now; with this copy gone, zstd fails at once if the client dies.
  direct?.stdout?.destroy();
  const exited = runner.wait(child);
  let committing = false;
  let killedFor: Error | undefined;
  const kill = (why: Error) => {
    if (committing) return;
    killedFor ??= why;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const onAbort = () => kill(new RestoreStoppedError(`${command} aborted: ${reasonText(run.signal.reason)}`, true));
  run.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => kill(new EngineError(`${command} exceeded the restore timeout of ${run.timeoutMs} ms`, { retryable: false })), run.timeoutMs);
  try {
    try {
      if (direct) await direct.done;
      else await pipeline([input.source, ...input.transforms, ...extra, stdinSink(child, kill)] as unknown as NodeJS.ReadWriteStream[]);
      await input.verified();
      await commit.before?.();
    } catch (err) {
      kill(err instanceof Error ? err : new Error(String(err)));
      for (const p of input.done) p.catch(() => undefined);
    }
    if (!killedFor) {
      committing = true;
      const stdin = child.stdin;
      if (commit.tail) stdin!.write(commit.tail);
      stdin?.end();
    }
    const { code, signal, stderr } = await exited;
    if (killedFor instanceof ChecksumMismatchError) throw new EngineError(killedFor.message, { retryable: false });
    if (signal === null && code !== 0) throw classify(stderr, code);
    if (killedFor) throw killedFor instanceof EngineError ? killedFor : new EngineError(killedFor.message, { retryable: false });
    if (code !== 0) throw classify(stderr, code);
  } finally {
    clearTimeout(timer);
    run.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * A Writable over a child's stdin that never ends it: `runRestoreClient` ends it once everything
 * is verified. A failure of the child or its pipe fails the chain.
 */
function stdinSink(child: ChildProcess, kill: (err: Error) => void): Writable {
  const stdin = child.stdin!;
  let broken: Error | undefined;
  stdin.on('error', (e) => {
    broken = e;
  });
  const exitedEarly = () => new Error('the restore client exited before reading the whole dump');
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      if (broken || child.exitCode !== null || child.signalCode !== null) return cb(broken ?? exitedEarly());
      if (stdin.write(chunk)) return cb();
      const done = (err?: Error) => {
        stdin.off('drain', onDrain);
        child.off('close', onClose);
        cb(err);
      };
      const onDrain = () => done();
      const onClose = () => done(exitedEarly());
      stdin.once('drain', onDrain);
      child.once('close', onClose);
    },
    final(cb) {
      cb(broken);
    },
    destroy(err, cb) {
      if (err) kill(err);
      cb(err);
    },
  });
}

function reasonText(r: unknown): string {
  return r instanceof Error ? r.message : String(r ?? 'shutdown');
}
