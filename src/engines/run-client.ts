import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { EngineError } from '../common/errors.js';
import type { ProcessRunner } from '../common/process-runner.js';
import type { DumpRun } from './engine.interface.js';

/**
 * Runs a dump client whose stdout feeds `sink`; kills it on abort, timeout or sink failure.
 * `classify` turns the client's stderr into a message and a retry decision.
 */
export async function runDumpClient(
  runner: ProcessRunner,
  command: string,
  args: string[],
  env: Record<string, string>,
  run: DumpRun,
  sink: (stdout: Readable, signal: AbortSignal) => Promise<void>,
  classify: (stderr: string, code: number | null) => EngineError,
): Promise<void> {
  if (run.signal.aborted) throw new EngineError('cancelled before start', { retryable: true });
  const child: ChildProcess = runner.spawn(command, args, { env });
  const exited = runner.wait(child);
  let reason: EngineError | undefined;
  const stop = new AbortController();
  const kill = (why: EngineError) => {
    reason ??= why;
    child.kill('SIGKILL');
    stop.abort(why);
  };
  // An engine's own watchdog aborts with the EngineError to report (e.g. a lock wait timeout).
  const onAbort = () =>
    kill(run.signal.reason instanceof EngineError ? run.signal.reason : new EngineError(`${command} aborted: ${String(run.signal.reason ?? 'shutdown')}`, { retryable: true }));
  run.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => kill(new EngineError(`${command} exceeded the dump timeout of ${run.timeoutMs} ms`, { retryable: false })), run.timeoutMs);
  try {
    const sinkDone = sink(child.stdout as Readable, stop.signal).catch((err: Error) => {
      kill(err instanceof EngineError ? err : new EngineError(err.message, { retryable: true }));
      throw err;
    });
    const [{ code, stderr }] = await Promise.all([exited, sinkDone.catch(() => undefined)]);
    if (reason) throw reason;
    if (code !== 0) throw classify(stderr, code);
    await sinkDone;
  } finally {
    clearTimeout(timer);
    run.signal.removeEventListener('abort', onAbort);
  }
}
