import { afterAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrivateDir } from '../src/common/secure-fs.js';
import { startTestApp, type TestApp } from './support/app.js';

/** A shared folder (sticky bit, like /tmp) must never be made private: other services live there. */
describe('private files in shared folders', () => {
  const root = mkdtempSync(join(tmpdir(), 'bm-shared-'));
  const shared = join(root, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  let app: TestApp | undefined;

  afterAll(async () => {
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('an SQLite catalog in a shared folder leaves the folder as it was and makes the file 0600', async () => {
    const file = join(shared, 'catalog.sqlite');
    app = await startTestApp({ CATALOG_URL: `sqlite:${file}` });
    expect(statSync(shared).mode & 0o7777).toBe(0o1777);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses to keep private data directly in a shared folder, saying what to use instead', async () => {
    await expect(ensurePrivateDir(shared)).rejects.toThrow(/shared directory.*name a subdirectory/);
    expect(statSync(shared).mode & 0o7777).toBe(0o1777);
    const own = join(shared, 'backup-manager');
    await ensurePrivateDir(own);
    expect(statSync(own).mode & 0o777).toBe(0o700);
  });
});
