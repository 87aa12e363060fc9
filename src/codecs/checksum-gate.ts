import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * The artifact's SHA-256 is not the one recorded: its bytes are damaged. Whatever a reader made
 * of those bytes before this verdict arrived is a consequence of it, so this is the reason given.
 */
export class ChecksumMismatchError extends Error {
  constructor(expected: string, actual: string) {
    super(`checksum mismatch: expected ${expected}, got ${actual}`);
    this.name = 'ChecksumMismatchError';
  }
}

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
      cb(new ChecksumMismatchError(this.expected, actual));
      return;
    }
    this.passed = true;
    cb(null, this.held);
  }
}
