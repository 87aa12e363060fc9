import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { FdReader } from './fd-reader.js';

describe('FdReader', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fd-reader-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the whole file from offset 0 and leaves the descriptor open', async () => {
    const bytes = Buffer.alloc(3 * (1 << 20) + 17, 7);
    bytes.write('head', 0);
    writeFileSync(join(dir, 'a'), bytes);
    const fd = openSync(join(dir, 'a'), 'r');
    const chunks: Buffer[] = [];
    for await (const c of new FdReader(fd)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(fstatSync(fd).size).toBe(bytes.length); // still open: fstat would throw EBADF
    closeSync(fd);
  });

  it('destroyed mid-read, it closes only once its read settled, and never closes the descriptor', async () => {
    writeFileSync(join(dir, 'b'), Buffer.alloc(8 << 20, 1));
    const fd = openSync(join(dir, 'b'), 'r');
    const reader = new FdReader(fd);
    reader.once('data', () => reader.destroy());
    await once(reader, 'close');
    expect(fstatSync(fd).size).toBe(8 << 20);
    closeSync(fd);
  });
});
