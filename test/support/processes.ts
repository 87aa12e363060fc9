import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { delimiter, dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts a built entrypoint (`dist/src/main.js` or `dist/src/worker.js`) as a real process. */
export function startProcess(entry: 'main' | 'worker', env: Record<string, string>): Proc {
  return startScript(join(ROOT, 'dist', 'src', `${entry}.js`), env);
}

/** Runs a script of the test suite (`.mjs`) as a real process, cwd the repository, output captured like `startProcess`. */
export function startScript(path: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [path], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: the built entrypoint, env only, no TTY. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 90_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`backup-manager ${args.join(' ')} timed out:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Direct children of a process: every /proc entry whose parent is `pid`. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/**
 * The executable a process runs now, from `/proc/<pid>/exe` (`''` once it is gone). Unlike its
 * command line this changes only at exec: a child caught between fork and exec still shows its
 * parent's executable (and environment), which is how a dump client is told from its fork.
 */
export function exeOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}

/** The basename of `exeOf(pid)`: `pg_dump`, `zstd`, `setpriv`, `node`, ... */
export function exeNameOf(pid: number): string {
  return exeOf(pid).replace(/^.*\//, '').replace(/ \(deleted\)$/, '');
}

/** Children of `pid` that have exec'd `name` (by executable, not command line). */
export function childrenRunning(pid: number, name: string): number[] {
  return childPids(pid).filter((c) => exeNameOf(c) === name);
}

/** Every descendant of `pid` (children, their children, ...). */
export function descendants(pid: number): number[] {
  const all: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of childPids(queue.shift()!)) {
      all.push(c);
      queue.push(c);
    }
  }
  return all;
}

/** Polls `check` every `everyMs` until it returns a value; throws naming `what` past the deadline. */
export async function pollFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 60_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A directory for PATH holding the database clients and zstd but no `setpriv`: a process started
 * with it runs its children without a parent-death signal, so they outlive a SIGKILL of it, which
 * is what happens when that signal loses the race against the closing pipe. The caller removes it.
 */
export function pathWithoutSetpriv(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bm-nopdeath-'));
  for (const name of ['psql', 'pg_restore', 'pg_dump', 'zstd', 'mariadb', 'mariadb-dump', 'mysql', 'mysqldump']) {
    const found = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, name)).find((p) => existsSync(p));
    if (found) symlinkSync(found, join(dir, name));
  }
  return dir;
}
