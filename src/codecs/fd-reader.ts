import { read } from 'node:fs';
import { Readable } from 'node:stream';

const CHUNK = 1 << 20;

/**
 * A file read through a descriptor someone else owns, from offset 0 with positioned reads. Unlike
 * `fs.createReadStream({ fd })`, destroying it never closes the descriptor, and it emits 'close'
 * only once no read of it is in flight: after that the owner may close the descriptor without a
 * read landing on a reused number.
 */
export class FdReader extends Readable {
  private pos = 0;
  private reading: Promise<void> | undefined;

  constructor(private readonly fd: number) {
    super({ highWaterMark: CHUNK });
  }

  override _read(): void {
    const buf = Buffer.allocUnsafe(CHUNK);
    this.reading = new Promise((settle) =>
      read(this.fd, buf, 0, CHUNK, this.pos, (err, bytes) => {
        this.reading = undefined;
        settle();
        if (this.destroyed) return;
        if (err) return void this.destroy(err);
        if (bytes === 0) return void this.push(null);
        this.pos += bytes;
        this.push(bytes === CHUNK ? buf : buf.subarray(0, bytes));
      }),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.reading) void this.reading.then(() => cb(err));
    else cb(err);
  }
}
