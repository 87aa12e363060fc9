// `npm test` after the build: runs jest in two groups and prints one closing line
// "N passed, N failed[, N skipped]" for both.
//
// 1. Every spec file without an `@serial` tag, in TEST_WORKERS jest workers at once (default 2).
//    These suites own everything they touch: their own databases, BullMQ prefix, ports and
//    temporary folders.
// 2. The files tagged `@serial <why>` in a comment, one at a time, after the first group has
//    ended. They look at the whole machine (every process, every scratch database on a server),
//    restart or fill something others use, rebuild dist/, or time themselves.
//
// With arguments (`npm test -- test/cli.e2e.spec.ts test/faults`) it runs the files they match
// (jest path patterns), one at a time.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const JEST = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
const SERIAL = /^\s*(?:\*|\/\/)\s*@serial\b/m;

function specs(dir) {
  const out = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name);
    if (e.isDirectory()) out.push(...specs(rel));
    else if (e.name.endsWith('.spec.ts')) out.push(rel);
  }
  return out;
}

const workers = Number(process.env.TEST_WORKERS ?? 2);
if (!Number.isInteger(workers) || workers < 1) {
  console.error(`TEST_WORKERS=${process.env.TEST_WORKERS} is not a whole number of at least 1`);
  process.exit(64);
}

const summaryDir = mkdtempSync(join(tmpdir(), 'bm-test-summary-'));
const totals = { passed: 0, failed: 0, skipped: 0 };
let failedRuns = 0;

/** A jest path pattern that matches exactly the file `rel`. */
const exactly = (rel) => `^${join(ROOT, rel).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;

/** One jest run over `files` (jest path patterns); adds its counts (written by test/support/summary-reporter.cjs) to the totals. */
function jest(name, files, extra) {
  if (!files.length) return;
  const summaryFile = join(summaryDir, `${name}.json`);
  console.log(`\n[test] ${name}: ${files.length} file(s)${extra.includes('--runInBand') ? ', one at a time' : `, ${workers} at a time`}\n`);
  const args = ['--experimental-vm-modules', '--no-warnings', JEST, ...extra, '--forceExit', ...files];
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, BM_TEST_SUMMARY_FILE: summaryFile } });
  let counts;
  try {
    counts = JSON.parse(readFileSync(summaryFile, 'utf8'));
  } catch {
    // Jest ended before its reporters ran (a crash or a signal): count the run as one failure.
    counts = { passed: 0, failed: 1, skipped: 0 };
    console.error(`[test] ${name}: jest ended without results (exit ${r.status ?? r.signal})`);
  }
  totals.passed += counts.passed;
  totals.failed += counts.failed;
  totals.skipped += counts.skipped;
  if (r.status !== 0) failedRuns++;
}

const chosen = process.argv.slice(2);
if (chosen.length) {
  jest('chosen', chosen, ['--runInBand']);
} else {
  const all = [...specs('src'), ...specs('test')].sort();
  const serial = all.filter((f) => SERIAL.test(readFileSync(join(ROOT, f), 'utf8')));
  const parallel = all.filter((f) => !serial.includes(f));
  jest('parallel', parallel.map(exactly), workers > 1 ? [`--maxWorkers=${workers}`] : ['--runInBand']);
  jest('serial', serial.map(exactly), ['--runInBand']);
}
rmSync(summaryDir, { recursive: true, force: true });

const { passed, failed, skipped } = totals;
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed || failedRuns ? 1 : 0);
