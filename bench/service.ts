// The standalone service as the benchmarks run it: an API process and a worker process from
// dist/, stopped with the script however it ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Role } from '../src/auth/roles.js';
import { signToken } from '../src/auth/token-verifier.js';

// Compiled to dist/bench/service.js: the repository is two levels up.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const children = new Set<ChildProcess>();

/** The API and worker processes go with the script, whether it ends well or not. */
export function stopChildren(): void {
  for (const c of children) c.kill('SIGTERM');
}
process.once('SIGINT', () => {
  stopChildren();
  process.exit(130);
});

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Starts API and worker with `env` (which holds PORT and JWT_SECRET), waits until the API answers
 * and a second more, and returns both with a token of `role`. Either process failing ends the run.
 */
export async function startService(env: Record<string, string>, role: Role, tokenTtl: string) {
  const api = track(spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], { env: { ...env, APP_ROLE: 'api' }, stdio: 'inherit' }));
  // Same V8 flags as `npm run start:worker` and the Dockerfile.
  // BENCH_WORKER_NODE_FLAGS adds flags for a profile (`--cpu-prof --cpu-prof-dir=/tmp/prof`, `--heap-prof`).
  const extra = (process.env.BENCH_WORKER_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const worker = track(spawn(process.execPath, ['--max-semi-space-size=2', '--heap-growing-percent=20', '--optimize-for-size', ...extra, join(ROOT, 'dist/src/worker.js')], { env, stdio: 'inherit' }));
  for (const [name, child] of [['api', api], ['worker', worker]] as const) {
    child.once('exit', (code) => {
      if (code !== null && code !== 0) {
        process.stderr.write(`bench: the ${name} process exited with ${code}\n`);
        stopChildren();
        process.exit(1);
      }
    });
  }
  const token = signToken(env.JWT_SECRET, { sub: 'bench', role }, { expiresIn: tokenTtl as never });
  const base = `http://127.0.0.1:${env.PORT}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health/live`)).ok) break;
    } catch {
      /* starting */
    }
    if (i > 150) throw new Error('API did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1000));
  return { api, worker, token, base };
}
