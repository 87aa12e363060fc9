import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Passes bytes through while hashing them, holding back the last chunk until the SHA-256 is
 * known: on a mismatch the stream errors before the final bytes leave, so a reader never
 * receives a complete-looking corrupt artifact.
 */
export class ChecksumGate extends Transform {
  private readonly hash = createHash('sha256');
  private held?: Buffer;
  /** True once the last byte was seen and the SHA-256 matched. */
  passed = false;

  constructor(private readonly expected: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    const prev = this.held;
    this.held = chunk;
    cb(null, prev);
  }

  override _flush(cb: TransformCallback): void {
    const actual = this.hash.digest('hex');
    if (actual !== this.expected) {
      cb(new Error(`checksum mismatch: expected ${this.expected}, got ${actual}`));
      return;
    }
    this.passed = true;
    cb(null, this.held);
  }
}
