import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Counts bytes (and optionally hashes them) as they pass, reporting progress at most every `everyMs`. */
export class MeasureTap extends Transform {
  bytes = 0;
  private readonly hash;
  private lastReport = 0;

  constructor(opts: { sha256?: boolean; onProgress?: (bytes: number) => void; everyMs?: number } = {}) {
    super();
    this.hash = opts.sha256 ? createHash('sha256') : undefined;
    this.onProgress = opts.onProgress;
    this.everyMs = opts.everyMs ?? 1000;
  }

  private readonly onProgress?: (bytes: number) => void;
  private readonly everyMs: number;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    if (this.onProgress) {
      const now = Date.now();
      if (now - this.lastReport >= this.everyMs) {
        this.lastReport = now;
        this.onProgress(this.bytes);
      }
    }
    cb(null, chunk);
  }

  digest(): string {
    if (!this.hash) throw new Error('MeasureTap created without sha256');
    return this.hash.digest('hex');
  }
}
