import { expect } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { signToken } from '../../../src/auth/token-verifier.js';
import { Role } from '../../../src/auth/roles.js';
import { commandOf, freePort } from '../../support/processes.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An HTTP client for a service started as a real process (API, or API + workers). */
export function client(base: string, jwtSecret: string, role: Role = Role.Admin) {
  const token = signToken(jwtSecret, { sub: 'faults', role }, { expiresIn: '2h' });
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: r.status, body: json, text };
  };
  const get = async (id: string) => (await call('GET', `/api/v1/backups/${id}`)).body;
  /** Polls until the backup leaves QUEUED/RUNNING. */
  const waitDone = async (id: string, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const b = await get(id).catch(() => undefined);
      if (b && !['QUEUED', 'RUNNING'].includes(b.status)) return b;
      if (Date.now() > deadline) throw new Error(`backup ${id} still ${b?.status} after ${timeoutMs} ms: ${JSON.stringify(b)}`);
      await sleep(250);
    }
  };
  /** Polls until `pred` holds for the backup. */
  const waitUntil = async (id: string, pred: (b: any) => boolean, what: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const b = await get(id).catch(() => undefined);
      if (b && pred(b)) return b;
      if (Date.now() > deadline) throw new Error(`backup ${id}: ${what} not reached in ${timeoutMs} ms: ${JSON.stringify(b)}`);
      await sleep(250);
    }
  };
  const list = async (target: string) => {
    const out: any[] = [];
    for (let page = 1; ; page++) {
      const r = await call('GET', `/api/v1/backups?target=${encodeURIComponent(target)}&limit=200&page=${page}`);
      if (r.status !== 200) throw new Error(`list failed: ${r.status} ${r.text}`);
      out.push(...r.body.items);
      if (page >= r.body.pages) return out;
    }
  };
  return { call, get, waitDone, waitUntil, list };
}
export type Client = ReturnType<typeof client>;

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Every regular file under `dir`, as paths relative to it. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Every entry (files and directories) under `dir`. */
export function entriesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

const DUMP_CHILD = /(^|\/)(pg_dump|mariadb-dump|mysqldump|zstd|psql|pg_restore|mariadb|mysql)\b/;

function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Whether `pid` is `ancestor` or below it in the process tree. */
function descendsFrom(pid: number, ancestor: number): boolean {
  for (let p: number | undefined = pid, hops = 0; p && p > 1 && hops < 64; p = ppidOf(p), hops++) if (p === ancestor) return true;
  return false;
}

/**
 * Client processes (pg_dump, zstd, mariadb-dump, ...) that a crashed worker would leave behind:
 * reparented to init, or below this test process with a parent that is not node (the service
 * runs every client straight under its node worker). A client of some other session on the
 * machine (a shell pipeline of its own, say) is neither. With `envMarker`, also every client,
 * orphaned or not, whose environment holds it.
 */
export function orphanClients(envMarker?: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const cmd = commandOf(pid);
    if (!DUMP_CHILD.test(cmd.split(' ')[0] ?? '') && !/^\/usr\/bin\/perl .*pg_dump/.test(cmd)) continue;
    const ppid = ppidOf(pid);
    if (ppid === undefined) continue;
    const parent = commandOf(ppid);
    const orphan = ppid === 1 || (!/(^|\/)node\b/.test(parent.split(' ')[0] ?? '') && descendsFrom(ppid, process.pid));
    let marked = false;
    if (envMarker) {
      try {
        marked = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(envMarker);
      } catch {
        /* gone */
      }
    }
    if (orphan || marked) out.push(`${pid} (parent ${ppid} ${parent.slice(0, 60)}): ${cmd.slice(0, 120)}`);
  }
  return out;
}

/**
 * What a user must be able to rely on after any fault, for one target:
 * no record QUEUED/RUNNING, every FAILED record has a reason, every listed artifact exists and
 * matches its checksum, storage holds exactly the listed artifacts and their manifests (no partial,
 * no orphan), and the temp directory holds nothing.
 */
export async function checkInvariants(c: Client, env: Record<string, string>, target: string): Promise<{ ok: any[]; failed: any[] }> {
  const records = await c.list(target);
  const stuck = records.filter((r) => ['QUEUED', 'RUNNING'].includes(r.status));
  expect(stuck.map((r) => `${r.id} ${r.status}`)).toEqual([]);
  const ok = records.filter((r) => ['COMPLETED', 'VERIFIED'].includes(r.status));
  const failed = records.filter((r) => r.status === 'FAILED');
  expect(records.length).toBe(ok.length + failed.length);
  for (const f of failed) expect(typeof f.errorMessage === 'string' && f.errorMessage.length > 5).toBe(true);
  const storage = env.STORAGE_DIR ?? join(env.DATA_DIR, 'backups');
  for (const r of ok) {
    const path = join(storage, r.fileKey);
    expect(existsSync(path)).toBe(true);
    expect(statSync(path).size).toBe(Number(r.sizeBytes));
    expect(await sha256File(path)).toBe(r.checksum);
  }
  const expected = ok.flatMap((r) => [r.fileKey, `${r.fileKey}.manifest.json`]).sort();
  expect(filesUnder(join(storage, target)).map((f) => `${target}/${f}`)).toEqual(expected);
  expect(entriesUnder(env.TEMP_DIR ?? join(env.DATA_DIR, 'tmp'))).toEqual([]);
  return { ok, failed };
}

export interface RedisServer {
  port: number;
  url: string;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A test-owned redis-server on its own free port, no persistence (argv only, no shell). */
export async function startRedis(extraArgs: string[] = [], port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 10_000;
  while (!/Ready to accept connections/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start: ${out}`);
    await sleep(50);
  }
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    child,
    stop: async (signal: NodeJS.Signals = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
