import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api } from '../support/api.js';
import { startTestApp, waitFor, type TestApp } from '../support/app.js';
import { ROOT } from '../support/processes.js';

/**
 * Clearing the file cache while another process keeps swapping a directory of the cache root with
 * a symlink to a directory outside it (same file names on both sides). Whatever the timing, no
 * file outside the root is removed, and the root's own files are.
 */
const FILES = 60;
const ROUNDS = 120;

function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(dir, e.name)) : 1;
  return n;
}

describe('clearing the file cache during a directory/symlink swap race', () => {
  let t: TestApp;
  let base: string;
  let root: string;
  let outside: string;
  let outsideCount: number;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'bm-cache-race-'));
    root = join(base, 'cache');
    outside = join(base, 'outside');
    mkdirSync(root);
    mkdirSync(join(outside, 'sub'), { recursive: true });
    for (let i = 0; i < FILES; i++) {
      writeFileSync(join(outside, `f-${i}`), 'outside');
      writeFileSync(join(outside, 'sub', `f-${i}`), 'outside');
    }
    outsideCount = countFiles(outside);
    t = await startTestApp({ CACHE_FILE_ROOT: root, AUTH_FAILURE_LIMIT: '0' });
  });

  afterAll(async () => {
    await t?.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('never removes a file outside the root, however the swap and the walk interleave', async () => {
    const stop = join(base, 'stop');
    const racer = spawn(process.execPath, [join(ROOT, 'test', 'support', 'swap-racer.mjs'), root, outside, stop, String(FILES)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    racer.stdout!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => racer.once('exit', r));
    const bodies = [{ cacheType: 'file' }, { cacheType: 'file', keys: ['d'] }, { cacheType: 'file', keys: ['d*', 'lnk'] }, { cacheType: 'file', keys: ['d/sub'] }];
    let cleared = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // the racer has refilled the directory (whichever name it has at this instant)
        await waitFor(async () => ['d', 'hold'].some((n) => existsSync(join(root, n, 'f-0'))), 'the racer to refill the cache directory', 30_000, 5).catch((err) => {
          throw new Error(`${err.message}; root holds ${JSON.stringify(readdirSync(root, { withFileTypes: true }).map((e) => [e.name, e.isSymbolicLink() ? 'link' : e.isDirectory() ? readdirSync(join(root, e.name)).length : 'file']))}`);
        });
        const r = await api(t, 'DELETE', '/api/v1/cache', { body: bodies[round % bodies.length] });
        // A keyed clear may be refused (400) when the swap makes a key a symlink at that instant.
        expect([200, 400]).toContain(r.status);
        if (r.status === 200) cleared += r.body.itemsCleared;
        expect({ round, outside: countFiles(outside) }).toEqual({ round, outside: outsideCount });
      }
    } finally {
      writeFileSync(stop, '');
      await exited;
    }
    const cycles = Number(out.trim());
    expect(cycles).toBeGreaterThan(ROUNDS); // the swap really raced the clears
    expect(cleared).toBeGreaterThan(FILES); // the root's own files went

    // Settled: the root's files (and the link itself) go, the outside stays whole.
    rmSync(stop);
    const all = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'file' } });
    expect(all.status).toBe(200);
    expect(all.body.outcome).toBe('success');
    expect(readdirSync(root)).toEqual([]);
    expect(countFiles(outside)).toBe(outsideCount);
  }, 300_000);
});
