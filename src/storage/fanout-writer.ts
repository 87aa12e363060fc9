import { Writable } from 'node:stream';
import type { ArtifactWriter } from './storage.interface.js';

/** How one destination's write ended. */
export interface CopyOutcome {
  storage: string;
  /** Committed: the artifact is visible there. */
  ok: boolean;
  error?: Error;
}

interface Branch {
  storage: string;
  writer: ArtifactWriter;
  error?: Error;
  committed: boolean;
}

/**
 * One artifact written to several destinations from one stream: every chunk goes to each
 * destination still writing, at the pace of the slowest. A destination that fails drops out
 * (its error kept for the record) while the others go on; the write fails only when none is left.
 * With one destination that is a local file, its descriptor is offered as `fd`, so a codec can
 * write the file itself.
 */
export class FanoutWriter implements ArtifactWriter {
  readonly stream: Writable;
  readonly fd?: number;
  private readonly branches: Branch[];

  constructor(writers: Array<{ storage: string; writer: ArtifactWriter }>) {
    this.branches = writers.map((w) => ({ ...w, committed: false }));
    this.fd = writers.length === 1 ? writers[0].writer.fd : undefined;
    for (const b of this.branches) {
      b.writer.stream.on('error', (err: Error) => void (b.error ??= err));
    }
    this.stream = new Writable({
      highWaterMark: 1 << 20,
      write: (chunk: Buffer, _enc, cb) => {
        void Promise.all(this.live().map((b) => writeTo(b, chunk))).then(() => cb(this.deadEnd()));
      },
      final: (cb) => {
        void Promise.all(this.live().map((b) => endOf(b))).then(() => cb(this.deadEnd()));
      },
    });
    this.stream.on('error', () => undefined);
  }

  written(): number {
    return Math.max(0, ...this.branches.map((b) => b.writer.written()));
  }

  /**
   * Commits every destination that is still healthy. @returns how each ended.
   * @throws the first error when no destination could commit.
   */
  async commit(meta?: { sha256?: string }): Promise<void> {
    for (const b of this.live()) {
      try {
        await b.writer.commit(meta);
        b.committed = true;
      } catch (err) {
        b.error = err as Error;
      }
    }
    const none = this.deadEnd();
    if (none) throw none;
  }

  async abort(): Promise<void> {
    await Promise.all(this.branches.filter((b) => !b.committed).map((b) => b.writer.abort().catch(() => undefined)));
  }

  /** Each destination's outcome, once `commit` ran (or failed). */
  outcomes(): CopyOutcome[] {
    return this.branches.map((b) => ({ storage: b.storage, ok: b.committed, error: b.committed ? undefined : b.error }));
  }

  /** Destinations that failed while others went on. */
  failed(): CopyOutcome[] {
    return this.outcomes().filter((o) => o.error);
  }

  private live(): Branch[] {
    return this.branches.filter((b) => !b.error);
  }

  /** The error to stop with when no destination is left, else null. */
  private deadEnd(): Error | null {
    if (this.live().length) return null;
    const first = this.branches.find((b) => b.error)?.error;
    if (this.branches.length === 1) return first ?? new Error('the artifact could not be written');
    return new Error(`no destination could take the artifact: ${this.branches.map((b) => `${b.storage}: ${b.error?.message ?? 'failed'}`).join('; ')}`);
  }
}

/** Writes a chunk to one destination, resolving once it takes more (or failed: then it drops out). */
function writeTo(b: Branch, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = b.writer.stream;
    if (s.destroyed || s.writableEnded) {
      b.error ??= new Error(`the writer of storage "${b.storage}" was closed`);
      return resolve();
    }
    const onError = (err: Error) => {
      b.error ??= err;
      done();
    };
    const done = () => {
      s.off('error', onError);
      s.off('drain', done);
      s.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      b.error ??= s.errored ?? new Error(`the writer of storage "${b.storage}" closed early`);
      done();
    };
    s.once('error', onError);
    s.once('close', onClose);
    if (s.write(chunk)) done();
    else s.once('drain', done);
  });
}

/** Ends one destination's stream, resolving once it finished (or failed). */
function endOf(b: Branch): Promise<void> {
  return new Promise((resolve) => {
    const s = b.writer.stream;
    if (s.destroyed) {
      b.error ??= s.errored ?? new Error(`the writer of storage "${b.storage}" was closed`);
      return resolve();
    }
    s.once('error', (err: Error) => {
      b.error ??= err;
      resolve();
    });
    s.end(() => resolve());
  });
}
