import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashFile } from '../src/codecs/file-hash.js';

/**
 * The backup hashes an artifact that zstd is still writing, by reading the file right behind it.
 * Here a real child process writes in bursts with pauses, as zstd does while waiting on the dump.
 */
describe('hashing a file while another process writes it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bm-hash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A child that writes `bursts` random 300 KB bursts to its stdout (the file), `pauseMs` apart. */
  function writer(fd: number, bursts: number, pauseMs: number): Promise<number | null> {
    const script = `
      const { randomBytes } = require('node:crypto');
      const { writeSync } = require('node:fs');
      let i = 0;
      const tick = () => { writeSync(1, randomBytes(300 * 1024)); if (++i < ${bursts}) setTimeout(tick, ${pauseMs}); };
      tick();`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', fd, 'inherit'] });
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Runs `fn` with a new read-write file under the test directory, closing it afterwards. */
  async function withFile(name: string, fn: (fd: number, path: string) => Promise<void>): Promise<void> {
    const path = join(dir, name);
    const fd = openSync(path, 'wx+', 0o600);
    try {
      await fn(fd, path);
    } finally {
      closeSync(fd);
    }
  }

  it('covers every byte written, including those written after it caught up and waited', () =>
    withFile('bursts.bin', async (fd, path) => {
      const progress: number[] = [];
      const digest = await hashFile(fd, { writer: writer(fd, 12, 120), onProgress: (b) => progress.push(b) });
      const bytes = readFileSync(path);
      expect(digest.bytes).toBe(12 * 300 * 1024);
      expect(digest.bytes).toBe(bytes.length);
      expect(digest.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.every((b) => b > 0 && b <= bytes.length)).toBe(true);
    }));

  it('hashes a finished file larger than its read buffer', () =>
    withFile('done.bin', async (fd, path) => {
      expect(await writer(fd, 9, 0)).toBe(0);
      const digest = await hashFile(fd);
      expect(digest.sha256).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
      expect(digest.bytes).toBe(9 * 300 * 1024);
    }));

  it('stops when its signal aborts', () =>
    withFile('aborted.bin', async (fd) => {
      const never = new Promise<void>(() => undefined);
      const ac = new AbortController();
      const hashing = hashFile(fd, { writer: never, signal: ac.signal });
      setTimeout(() => ac.abort(new Error('backup cancelled')), 50);
      await expect(hashing).rejects.toThrow('backup cancelled');
    }));
});
