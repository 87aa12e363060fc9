// @serial runs `npm run dev`, which rebuilds dist/ under the other suites
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropQueueKeys } from './support/app.js';
import { dropPgDatabase, pgQuery } from './support/pg.js';
import { freePort, ROOT } from './support/processes.js';

/**
 * The README's "first backup" block, extracted from README.md and run by bash as written: it starts
 * the service with `npm run dev`, backs up, downloads the artifact, restores it with zstd and
 * pg_restore into a new database, counts its rows and stops the service. Only the port (a free
 * one), the two database names (fresh ones) and the data directory and queue prefix (through the
 * environment) differ from what a user runs.
 */
const MARKER = '<!-- test/readme.e2e.spec.ts runs this block as written';
const DOWNLOAD = /^app_manual_\d{8}T\d{6}Z_[0-9a-f]{8}\.dump\.zst$/;

/** The fenced `sh` block that follows the marker comment. */
export function markedBlock(readme: string): string {
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error(`README.md has no "${MARKER}" comment`);
  const m = /^-->\n```sh\n([\s\S]*?)^```$/m.exec(readme.slice(readme.indexOf('-->', at)));
  if (!m) throw new Error('the marker comment is not followed by a ```sh block');
  return m[1];
}

/** Replaces every match of `re`, and fails if there is none (the README changed under the test). */
function substitute(text: string, re: RegExp, by: string): string {
  if (!re.test(text)) throw new Error(`the README block no longer contains ${re}`);
  return text.replace(re, by);
}

describe("the README's quick start", () => {
  const tag = randomBytes(4).toString('hex');
  const db = `bmt_readme_${tag}`;
  const copy = `bmt_readme_copy_${tag}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'bm-readme-'));
  const queuePrefix = `bmtest-${tag}`;
  const started = Date.now();

  afterAll(async () => {
    await dropPgDatabase(copy);
    await dropPgDatabase(db);
    await dropQueueKeys(queuePrefix);
    rmSync(dataDir, { recursive: true, force: true });
    // The artifact the block downloaded into the repository's directory.
    for (const f of readdirSync(ROOT)) if (DOWNLOAD.test(f) && statSync(join(ROOT, f)).mtimeMs >= started - 1000) rmSync(join(ROOT, f));
  });

  it('backs up, downloads, restores with zstd and pg_restore, and the rows are there', async () => {
    const port = await freePort();
    let script = markedBlock(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    script = substitute(script, /localhost:3000\b/g, `localhost:${port}`);
    script = substitute(script, /\bdemo_copy\b/g, copy);
    script = substitute(script, /\bdemo\b/g, db);
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LANG: 'C.UTF-8', PORT: String(port), DATA_DIR: dataDir, QUEUE_PREFIX: queuePrefix };
    // -e: the first command that fails ends the run (with its status), as a careful user would stop.
    const bash = spawn('bash', ['-e', '-c', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    bash.stdout.on('data', (d) => (out += d));
    bash.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => process.kill(-bash.pid!, 'SIGKILL'), 240_000);
    const code = await new Promise<number | null>((r) => bash.once('close', (c) => r(c)));
    clearTimeout(timer);
    try {
      process.kill(-bash.pid!, 'SIGKILL'); // anything the block left running (it should have stopped the service)
    } catch {
      /* none left */
    }
    expect({ code, tail: code === 0 ? '' : out.slice(-4000) }).toEqual({ code: 0, tail: '' });

    expect(out).toContain(`listening on http://0.0.0.0:${port}`);
    expect(out).toMatch(/"status":"VERIFIED"/);
    expect(out).toMatch(/^\s+1000\n\(1 row\)/m); // psql's count
    expect(out).toMatch(/shut down after SIGTERM in \d+ ms/);
    // Restored as it was: the same rows in the new database.
    const digest = `SELECT count(*)::int AS n, md5(string_agg(id::text || ref, ',' ORDER BY id)) AS h FROM orders`;
    const [a] = await pgQuery(db, digest);
    const [b] = await pgQuery(copy, digest);
    expect(b).toEqual({ n: 1000, h: a.h });
  }, 300_000);
});
