/**
 * `npm run bench -- --catalog 100000 [--engines sqlite,postgres,mysql] [--requests 60] [--rounds 5]`:
 * how the service behaves with a large catalog. For each catalog engine it starts the API and a
 * worker (separate processes, as in production) with 50 targets, then:
 *
 * 1. times `--rounds` backups, POST to COMPLETED, on the empty catalog;
 * 2. seeds the catalog with `--catalog` copies of the last of those (a real completed record),
 *    over the 50 targets and 3 years, with a mix of statuses, types and kinds (bench/catalog-seed.ts);
 * 3. sends each list, stats and metrics request `--requests` times, one at a time, and keeps the
 *    95th percentile of the client-side times;
 * 4. times `--rounds` more backups the same way: their median over the empty catalog's is the ratio;
 * 5. restarts the worker with a retention cleanup due at the next minute and samples its RSS
 *    every 20 ms until the cleanup's audit event appears.
 *
 * Prints a table per engine and writes bench/results/catalog-<time>.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Role } from '../src/auth/roles.js';
import { signToken } from '../src/auth/token-verifier.js';
import { BackupRecord } from '../src/backup/entities/backup-record.entity.js';
import { openCatalog } from '../src/catalog/catalog.js';
import { seedCatalog } from './catalog-seed.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: {
    catalog: { type: 'string', default: '100000' },
    engines: { type: 'string', default: 'sqlite,postgres' },
    requests: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '5' },
    'cpu-prof': { type: 'string' },
    /** A request type stops being sampled once its samples took this long (the slow ones of an unfixed catalog). */
    'max-ms': { type: 'string', default: '60000' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5432' },
    user: { type: 'string', default: 'postgres' },
    mysql: { type: 'string', default: 'mysql://root@127.0.0.1:3306' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});
const PG = { host: values.host!, port: Number(values.port), user: values.user! };
const COUNT = Number(values.catalog);
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const TARGETS = Array.from({ length: 50 }, (_, i) => `t${i}`);
const DAYS = 3 * 365;
/** Keeps three years minus two weeks: a cleanup over the seeded history deletes its oldest two weeks. */
const POLICY = { name: 'bench', kind: 'per-type', rules: { daily: { maxAgeDays: DAYS - 14 }, weekly: { maxAgeDays: DAYS - 14 }, monthly: { maxAgeDays: DAYS - 14 }, manual: { maxAgeDays: DAYS - 14 } }, maxAgeDays: DAYS - 14 };

async function pgq(db: string, sql: string): Promise<any[]> {
  const c = new pg.Client({ ...PG, database: db });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

/** The database every target backs up: small, so that a backup's time is mostly the service's own work. */
async function ensureSource(): Promise<string> {
  const db = 'bm_bench_catalog_src';
  const exists = await pgq('postgres', `SELECT 1 FROM pg_database WHERE datname = '${db}'`);
  if (!exists.length) {
    await pgq('postgres', `CREATE DATABASE "${db}"`);
    await pgq(db, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g`);
    await pgq(db, 'VACUUM ANALYZE t');
  }
  return db;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const children = new Set<ChildProcess>();
function start(name: string, args: string[], env: Record<string, string>): ChildProcess {
  const prof = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof'], '--cpu-prof-name', `${name}-${Date.now()}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...prof, ...args], { env, stdio: 'inherit' });
  children.add(child);
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (!stopping.has(child)) {
      process.stderr.write(`bench: the ${name} process exited (${signal ?? code})\n`);
      stopAll();
      process.exit(1);
    }
  });
  return child;
}
const stopping = new Set<ChildProcess>();
function stop(child: ChildProcess): Promise<void> {
  stopping.add(child);
  if (child.exitCode !== null) return Promise.resolve();
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  return done;
}
function stopAll(): void {
  for (const c of children) {
    stopping.add(c);
    c.kill('SIGTERM');
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    stopAll();
    process.exit(130);
  });
}

/** CPU time (user + system) a process has used, in ms, off /proc (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

function rssMb(pid: number, key: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.95) - 1];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Catalog {
  env: Record<string, string>;
  drop(): Promise<void>;
}

async function catalogFor(engine: string): Promise<Catalog> {
  const name = `bm_bench_catalog_${randomBytes(3).toString('hex')}`;
  if (engine === 'sqlite') return { env: {}, drop: async () => undefined };
  if (engine === 'postgres') {
    await pgq('postgres', `CREATE DATABASE "${name}"`);
    return { env: { CATALOG_URL: `postgres://${PG.user}@${PG.host}:${PG.port}/${name}` }, drop: () => pgq('postgres', `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).then(() => undefined) };
  }
  if (engine === 'mysql') {
    const c = await mysql.createConnection(values.mysql!);
    await c.query(`CREATE DATABASE \`${name}\``);
    await c.end();
    return {
      env: { CATALOG_URL: `${values.mysql}/${name}` },
      drop: async () => {
        const d = await mysql.createConnection(values.mysql!);
        await d.query(`DROP DATABASE IF EXISTS \`${name}\``);
        await d.end();
      },
    };
  }
  throw new Error(`unknown engine ${engine} (sqlite, postgres or mysql)`);
}

async function benchEngine(engine: string, source: string) {
  const work = mkdtempSync(join(tmpdir(), 'bm-bench-catalog-'));
  const cat = await catalogFor(engine);
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH!,
    DATA_DIR: work,
    JWT_SECRET: randomBytes(24).toString('hex'),
    QUEUE_PREFIX: `bmbench-${randomBytes(3).toString('hex')}`,
    REDIS_URL: values.redis!,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    SCHEDULER_ENABLED: 'false',
    SCHEDULER_DEFAULT_PLANS: 'false',
    RETENTION_POLICIES: JSON.stringify([POLICY]),
    RETENTION_DEFAULT_POLICY: 'bench',
    RETENTION_CLEANUP_CRON: '',
    ...cat.env,
  };
  for (const t of TARGETS) env[`BACKUP_TARGET_${t.toUpperCase()}_URL`] = `postgres://${PG.user}@${PG.host}:${PG.port}/${source}`;
  const api = start('api', [join(ROOT, 'dist/src/main.js')], { ...env, APP_ROLE: 'api' });
  let worker = start('worker', ['--max-semi-space-size=2', '--heap-growing-percent=20', '--optimize-for-size', join(ROOT, 'dist/src/worker.js')], env);
  const token = signToken(env.JWT_SECRET, { sub: 'bench', role: Role.Admin }, { expiresIn: '4h' });
  const base = `http://127.0.0.1:${port}`;
  const get = async (path: string) => {
    // A kept-alive socket the server closed while the bench was seeding: one new try.
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } }).catch(() => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } }));
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text;
  };
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health/live`)).ok) break;
    } catch {
      /* starting */
    }
    if (i > 300) throw new Error('API did not start');
    await sleep(200);
  }

  /** One backup of t7, POST to COMPLETED (the record's completedAt), then waits (untimed) for its verification and a quiet second. */
  const backupOnce = async (): Promise<number> => {
    const t0 = Date.now();
    const res = await fetch(`${base}/api/v1/backups`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: 't7', type: 'daily' }) });
    const created = (await res.json()) as any;
    if (res.status !== 202) throw new Error(`POST /backups: ${res.status} ${JSON.stringify(created)}`);
    let rec: any;
    for (;;) {
      rec = JSON.parse(await get(`/api/v1/backups/${created.id}`));
      if (!['QUEUED', 'RUNNING', 'COMPLETED'].includes(rec.status)) break;
      if (Date.now() - t0 > 300_000) throw new Error('backup did not finish in 5 minutes');
      await sleep(250);
    }
    if (rec.status !== 'VERIFIED') throw new Error(`backup ended ${rec.status}: ${rec.errorMessage}`);
    await sleep(1500);
    return new Date(rec.completedAt).getTime() - t0;
  };
  /** The worker's and the API's CPU (ms) over one `backupOnce`: the backup, its verification and what its completion set off. */
  const cpuOf = async (into: number[]): Promise<number> => {
    const w0 = cpuMs(worker.pid!);
    const a0 = cpuMs(api.pid!);
    const ms = await backupOnce();
    into.push(cpuMs(worker.pid!) - w0 + cpuMs(api.pid!) - a0);
    return ms;
  };
  await backupOnce(); // warm-up: first connections, first child processes
  const empty: number[] = [];
  const emptyCpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) empty.push(await cpuOf(emptyCpu));
  process.stderr.write(`[${engine}] empty catalog: POST→COMPLETED ${empty.join(', ')} ms\n`);

  // Seed through a connection of our own, as the service opens it.
  const ds = await openCatalog({ sqlitePath: join(work, 'catalog.sqlite'), url: cat.env.CATALOG_URL, migrationsRun: false });
  const template = await ds.getRepository(BackupRecord).findOneOrFail({ where: { target: 't7' }, order: { createdAt: 'DESC', id: 'DESC' } });
  const t0 = performance.now();
  let last = 0;
  await seedCatalog(ds, template, { count: COUNT, targets: TARGETS, days: DAYS }, (n) => {
    if (n - last >= 20_000) {
      process.stderr.write(`[${engine}] seeded ${n}\n`);
      last = n;
    }
  });
  // What autovacuum does on its own after a bulk load (PostgreSQL statistics, visibility map).
  if (engine === 'postgres') await ds.query('VACUUM ANALYZE');
  if (engine === 'mysql') await ds.query(`ANALYZE TABLE bm_backup_records`);
  await ds.destroy();
  const seedMs = Math.round(performance.now() - t0);
  process.stderr.write(`[${engine}] seeded ${COUNT} records in ${seedMs} ms\n`);

  const time = async (path: string) => {
    const s = performance.now();
    const body = await get(path);
    return { ms: performance.now() - s, body };
  };
  const measure = async (path: string) => {
    await time(path); // warm-up: connections, statement caches
    const ms: number[] = [];
    const budget = Number(values['max-ms']);
    const cpu0 = cpuMs(api.pid!);
    for (let i = 0, spent = 0; i < REQUESTS && spent < budget; i++) {
      ms.push((await time(path)).ms);
      spent += ms[ms.length - 1];
    }
    // The API process's own CPU per request: what the request costs the server, whatever the load.
    return { p95: Math.round(p95(ms) * 10) / 10, n: ms.length, cpuMs: Math.round(((cpuMs(api.pid!) - cpu0) / ms.length) * 10) / 10 };
  };
  const requests: Array<{ request: string; path: string; goal: number }> = [
    { request: 'GET /api/v1/backups?limit=50 (first page)', path: '/api/v1/backups?limit=50', goal: 25 },
    { request: '?target=t7&limit=50', path: '/api/v1/backups?target=t7&limit=50', goal: 25 },
    { request: '?status=FAILED&limit=50', path: '/api/v1/backups?status=FAILED&limit=50', goal: 25 },
    { request: '?page=1500&limit=50 (deep page)', path: '/api/v1/backups?page=1500&limit=50', goal: 25 },
  ];
  // The cursor that page 1499 hands out leads to the same records as page 1500.
  const deep = JSON.parse((await time('/api/v1/backups?page=1499&limit=50')).body);
  if (deep.cursor) requests.push({ request: '?cursor=… (page 1500 by cursor)', path: `/api/v1/backups?limit=50&cursor=${encodeURIComponent(deep.cursor)}`, goal: 25 });
  requests.push(
    { request: 'GET /api/v1/backups/stats', path: '/api/v1/backups/stats', goal: 100 },
    { request: 'GET /api/v1/backups/stats?target=t7', path: '/api/v1/backups/stats?target=t7', goal: 100 },
    { request: 'GET /metrics', path: '/metrics', goal: 50 },
  );
  const table: Array<{ request: string; p95Ms: number; n: number; cpuMs: number; goal: number }> = [];
  const loadBefore = loadavg()[0];
  for (const r of requests) {
    const { p95: p95Ms, n, cpuMs: cpu } = await measure(r.path);
    table.push({ request: r.request, p95Ms, n, cpuMs: cpu, goal: r.goal });
    process.stderr.write(`[${engine}] ${r.request}: p95 ${p95Ms} ms (${n} requests), API CPU ${cpu} ms a request, load ${loadavg()[0].toFixed(1)}\n`);
  }
  const load = [loadBefore, loadavg()[0]].map((x) => Math.round(x * 10) / 10);

  const full: number[] = [];
  const fullCpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) full.push(await cpuOf(fullCpu));
  process.stderr.write(`[${engine}] ${COUNT} records: POST→COMPLETED ${full.join(', ')} ms\n`);

  // A cleanup over the whole catalog, run by the worker's scheduler at the next minute.
  await stop(worker);
  const cleanupAt = Math.ceil((Date.now() + 15_000) / 60_000) * 60_000; // at least 15 s to start up
  // That one minute only: a cleanup longer than a minute must not meet the next one's.
  const at = new Date(cleanupAt);
  const cron = `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
  worker = start('worker', ['--max-semi-space-size=2', '--heap-growing-percent=20', '--optimize-for-size', join(ROOT, 'dist/src/worker.js')], { ...env, SCHEDULER_ENABLED: 'true', SCHEDULER_TIMEZONE: 'UTC', RETENTION_CLEANUP_CRON: cron });
  let idleRss = NaN;
  while (Date.now() < cleanupAt - 500) {
    idleRss = rssMb(worker.pid!);
    await sleep(100);
  }
  let peak = 0;
  const sampler = setInterval(() => {
    const v = rssMb(worker.pid!);
    if (v > peak) peak = v;
  }, 20);
  let cleanup: any;
  for (;;) {
    const page = JSON.parse(await get('/api/v1/audit?action=retention.cleanup&limit=1'));
    if (page.items.length) {
      cleanup = page.items[0];
      break;
    }
    if (Date.now() - cleanupAt > 900_000) throw new Error('no cleanup within 15 minutes of its time');
    await sleep(250);
  }
  clearInterval(sampler);
  const cleanupMs = new Date(cleanup.occurredAt).getTime() - cleanupAt;
  const hwm = rssMb(worker.pid!, 'VmHWM');
  const detail = cleanup.metadata?.detail ?? {};
  // The audit trail keeps the first 40 ids; the count is whole.
  const deleted = detail.deletedCount ?? (Array.isArray(detail.deleted) ? detail.deleted.length : detail.deleted);
  await stop(worker);
  await stop(api);
  await cat.drop();
  rmSync(work, { recursive: true, force: true });
  return {
    engine,
    records: COUNT,
    seedMs,
    load,
    table,
    backupEmptyMs: empty,
    backupFullMs: full,
    backupRatio: Math.round((median(full) / median(empty)) * 100) / 100,
    backupCpuEmptyMs: emptyCpu,
    backupCpuFullMs: fullCpu,
    backupCpuRatio: Math.round((median(fullCpu) / median(emptyCpu)) * 100) / 100,
    cleanup: { ms: cleanupMs, deleted, workerIdleRssMb: Math.round(idleRss), workerPeakRssMb: Math.round(peak), workerHighWaterMb: Math.round(hwm) },
  };
}

async function main() {
  const engines = values.engines!.split(',').map((e) => e.trim()).filter(Boolean);
  const source = await ensureSource();
  const results = [];
  for (const e of engines) results.push(await benchEngine(e, source));
  const head = `| request (p95 of ${REQUESTS}, ${COUNT} records; API CPU per request) | ${results.map((r) => `${r.engine} (load ${r.load.join(' → ')})`).join(' | ')} | goal |`;
  const lines = [head, `|---|${results.map(() => '---|').join('')}---|`];
  for (let i = 0; i < results[0].table.length; i++) {
    const row = results[0].table[i];
    lines.push(`| ${row.request} | ${results.map((r) => (r.table[i] ? `${r.table[i].p95Ms} ms (${r.table[i].cpuMs} ms)${r.table[i].n < REQUESTS ? ` (${r.table[i].n} requests)` : ''}` : '–')).join(' | ')} | ≤ ${row.goal} ms |`);
  }
  lines.push(`| one new backup, POST to COMPLETED (median of ${ROUNDS}) vs empty catalog | ${results.map((r) => `${r.backupRatio}× (${median(r.backupFullMs)} / ${median(r.backupEmptyMs)} ms)`).join(' | ')} | ≤ 1.2× |`);
  lines.push(`| the same backups' CPU, worker + API (median; verification and completion work included) | ${results.map((r) => `${r.backupCpuRatio}× (${median(r.backupCpuFullMs)} / ${median(r.backupCpuEmptyMs)} ms)`).join(' | ')} | |`);
  lines.push(`| worker peak RSS during the cleanup (idle before) | ${results.map((r) => `${r.cleanup.workerPeakRssMb} MB (${r.cleanup.workerIdleRssMb} MB)`).join(' | ')} | ≤ 150 MB |`);
  lines.push(`| cleanup: records deleted, time | ${results.map((r) => `${r.cleanup.deleted}, ${(r.cleanup.ms / 1000).toFixed(1)} s`).join(' | ')} | |`);
  process.stdout.write(lines.join('\n') + '\n');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const file = join(ROOT, 'bench', 'results', `catalog-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, requests: REQUESTS, rounds: ROUNDS, results }, null, 2));
  process.stdout.write(`wrote ${file}\n`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? (err as Error).message} ${String((err as Error).cause ?? '')}\n`);
  stopAll();
  process.exit(1);
}
process.exit(0);
