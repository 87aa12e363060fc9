import type { ChildProcess } from 'node:child_process';
import { Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EngineError } from '../common/errors.js';
import type { ProcessRunner } from '../common/process-runner.js';
import type { RestoreInput, RestoreRunOptions } from './restorer.interface.js';

/**
 * Feeds a restore client's stdin from `input`. The client's stdin is ended (EOF, which for
 * `psql -1` means COMMIT) only after the whole chain finished without error; on any error the
 * client is SIGKILLed first, so the server sees a dropped connection and rolls back.
 * `classify` turns the client's own failure (non-zero exit) into the reason.
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
): Promise<void> {
  if (run.signal.aborted) throw new EngineError(`restore aborted before start: ${reasonText(run.signal.reason)}`, false);
  const child = runner.spawn(command, args, { env, stdio: ['pipe', 'ignore', 'pipe'] });
  const exited = runner.wait(child);
  let killedFor: Error | undefined;
  const kill = (why: Error) => {
    killedFor ??= why;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const onAbort = () => kill(new EngineError(`${command} aborted: ${reasonText(run.signal.reason)}`, false));
  run.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => kill(new EngineError(`${command} exceeded the restore timeout of ${run.timeoutMs} ms`, false)), run.timeoutMs);
  let streamError: Error | undefined;
  try {
    const chain: NodeJS.ReadWriteStream[] = [input.source, ...input.transforms, ...extra, stdinSink(child, kill)] as unknown as NodeJS.ReadWriteStream[];
    await pipeline(chain).catch((err: Error) => {
      streamError = err;
      kill(err);
    });
    const codecs = await Promise.allSettled(input.done);
    const codecFailure = codecs.find((c): c is PromiseRejectedResult => c.status === 'rejected');
    if (codecFailure && !streamError) {
      streamError = codecFailure.reason as Error;
      kill(streamError);
    }
    const { code, signal, stderr } = await exited;
    if (signal === null && code !== 0) throw classify(stderr, code);
    if (streamError || killedFor) {
      const e = (killedFor ?? streamError)!;
      throw e instanceof EngineError ? e : new EngineError(e.message, false);
    }
    if (code !== 0) throw classify(stderr, code);
  } finally {
    clearTimeout(timer);
    run.signal.removeEventListener('abort', onAbort);
  }
}

/** A Writable over a child's stdin that never ends it on error (see `runRestoreClient`). */
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
      stdin.end();
      cb();
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
