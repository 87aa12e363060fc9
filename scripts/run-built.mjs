// Runs a compiled entrypoint of this repository (`node scripts/run-built.mjs dist/src/cli/main.js
// [args...]`) in this process, after checking that dist/ exists and is not older than the
// sources it is built from. The npm scripts `cli`, `token`, `migrate`, `start:worker` and `bench`
// go through it, so they start in well under a second instead of compiling first; `npm run build`
// (and `npm start`, which builds) is the one place that compiles.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** What `tsc -p tsconfig.build.json` compiles, and the files that steer it. */
const SOURCES = ['src', 'migrations', 'bench', 'tsconfig.json', 'tsconfig.build.json'];

const entry = process.argv[2];
if (!entry) fail('usage: node scripts/run-built.mjs dist/<entry>.js [args...]', 64);
const entryPath = join(ROOT, entry);

let builtAt;
try {
  builtAt = statSync(entryPath).mtimeMs;
} catch {
  fail(`${entry} does not exist: run \`npm run build\` first (npm start builds too)`);
}
const newer = newestSource();
if (newer && newer.mtimeMs > builtAt) {
  fail(`${entry} is older than ${relative(ROOT, newer.path)}: run \`npm run build\` (npm start builds too)`);
}

// The entry reads its own arguments from process.argv[2...], as if it had been started directly.
process.argv.splice(1, 2, entryPath);
await import(pathToFileURL(entryPath).href);

function newestSource() {
  let best;
  const visit = (path) => {
    let st;
    try {
      st = statSync(path);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(path)) if (name !== 'results') visit(join(path, name));
    } else if (/\.(ts|json)$/.test(path) && !path.endsWith('.spec.ts') && (!best || st.mtimeMs > best.mtimeMs)) {
      best = { path, mtimeMs: st.mtimeMs };
    }
  };
  for (const s of SOURCES) visit(join(ROOT, s));
  return best;
}

function fail(message, code = 1) {
  process.stderr.write(`backup-manager: ${message}\n`);
  process.exit(code);
}
