/**
 * `npm run bench [-- --sizes 256,1024 --rounds 3 --format custom|plain]` (custom is the service default; `-- --catalog N`
 * runs the large-catalog bench of bench/catalog.ts instead): builds PostgreSQL databases of the given sizes
 * (MB of table data), then for each times, in one run and alternating, a backup through the real
 * API and worker processes, plain and encrypted (age to one recipient), against `pg_dump | zstd -3
 * > file` and `pg_dump | gzip -6 > file`, sampling the worker's peak RSS. Prints a table and writes bench/results/<time>.json.
 *
 * The service's time runs from just before `POST /backups` to the record's `completedAt` (set
 * once the artifact is durable under its key). The script learns of the end by polling the API
 * once a second: each poll costs the API and this script a few ms of CPU, which on a 2-core
 * machine already saturated by the dump slows the backup being measured (at 50 ms polls, by
 * ~0.3 s per GB). The first poll that saw the end is kept in the JSON as `serviceObservedMs`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { signToken } from '../src/auth/token-verifier.js';
import { Role } from '../src/auth/roles.js';
import { ensureBenchDatabase } from './pg-dataset.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// `--catalog N`: the large-catalog bench (bench/catalog.ts) instead; it exits when done.
if (process.argv.some((a) => a === '--catalog' || a.startsWith('--catalog='))) await import('./catalog.js');
// `--s3`: the off-site bench (bench/s3.ts) instead: S3 against local disk; it exits when done.
if (process.argv.includes('--s3')) await import('./s3.js');
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    format: { type: 'string', default: 'custom' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5432' },
    user: { type: 'string', default: 'postgres' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});
const PG = { host: values.host!, port: Number(values.port), user: values.user! };

async function q(db: string, sql: string): Promise<any[]> {
  const c = new pg.Client({ ...PG, database: db });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

/** A database of about `mb` MB (bench/pg-dataset.ts), reused across runs. */
const ensureDatabase = (mb: number) => ensureBenchDatabase(PG, mb);

/** A fresh age key pair in `dir` (age-keygen); its public key. */
function ageRecipient(dir: string): string {
  const r = spawnSync('age-keygen', ['-o', join(dir, 'bench-age.key')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`age-keygen failed: ${r.stderr}`);
  return /Public key: (age1\S+)/.exec(r.stderr)![1];
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

/** The shell pipeline `pg_dump db | <codec> > file`, wired with kernel pipes but no shell. */
function shellPipeline(db: string, codec: string[], out: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const env = { PATH: process.env.PATH!, PGHOST: PG.host, PGPORT: String(PG.port), PGUSER: PG.user };
    const dump = spawn('pg_dump', [db], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const fd = openSync(out, 'w', 0o600);
    const comp = spawn(codec[0], codec.slice(1), { stdio: [dump.stdout!, fd, 'inherit'] });
    let left = 2;
    const done = (code: number | null) => {
      if (code !== 0) reject(new Error(`pipeline exited ${code}`));
      if (--left === 0) {
        closeSync(fd);
        resolve(performance.now() - t0);
      }
    };
    dump.on('exit', done);
    comp.on('exit', done);
  });
}

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
/** The API and worker processes go with the script, whether it ends well or not. */
function stopChildren(): void {
  for (const c of children) c.kill('SIGTERM');
}
process.once('SIGINT', () => {
  stopChildren();
  process.exit(130);
});

/**
 * CPU time (ms) the whole machine has spent busy so far, from /proc/stat: the difference over a
 * run is the work the run cost (database server, dump client, zstd, the service), which varies
 * far less than wall time on a noisy shared machine.
 */
function busyCpuMs(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / 100; // USER_HZ is 100 on Linux
}

function vm(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main() {
  const sizes = values.sizes!.split(',').map(Number);
  const rounds = Number(values.rounds);
  const work = mkdtempSync(join(tmpdir(), 'bm-bench-'));
  const results: any[] = [];
  for (const mb of sizes) {
    const db = await ensureDatabase(mb);
    const dbBytes = Number((await q(db, `SELECT pg_database_size(current_database()) AS s`))[0].s);
    const port = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH!,
      DATA_DIR: join(work, `data-${mb}`),
      JWT_SECRET: randomBytes(24).toString('hex'),
      QUEUE_PREFIX: `bmbench-${randomBytes(3).toString('hex')}`,
      REDIS_URL: values.redis!,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      SCHEDULER_ENABLED: 'false',
      BACKUP_TARGET_BENCH_URL: `postgres://${PG.user}@${PG.host}:${PG.port}/${db}`,
      // Encrypted backups are asked for with encrypt: true; the others stay plain.
      BACKUP_ENCRYPTION_RECIPIENTS: ageRecipient(work),
      BACKUP_ENCRYPTION_DEFAULT: 'false',
    };
    const api = track(spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], { env: { ...env, APP_ROLE: 'api' }, stdio: 'inherit' }));
    // Same V8 flags as `npm run start:worker` and the Dockerfile.
    const worker = track(spawn(process.execPath, ['--max-semi-space-size=2', join(ROOT, 'dist/src/worker.js')], { env, stdio: 'inherit' }));
    for (const [name, child] of [['api', api], ['worker', worker]] as const) {
      child.once('exit', (code) => {
        if (code !== null && code !== 0) {
          process.stderr.write(`bench: the ${name} process exited with ${code}\n`);
          stopChildren();
          process.exit(1);
        }
      });
    }
    const token = signToken(env.JWT_SECRET, { sub: 'bench', role: Role.Operator }, { expiresIn: '2h' });
    const base = `http://127.0.0.1:${port}`;
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
    const idleRss = vm(worker.pid!, 'VmRSS');

    const runs: Record<string, number[]> = { service: [], serviceObserved: [], serviceCpu: [], zstd: [], zstdCpu: [], gzip: [], serviceEncrypted: [], serviceEncryptedCpu: [] };
    let peakRss = 0;
    let record: any;
    let encrypted: any;
    /** One backup through the API and worker: ms to completedAt, machine CPU ms, the record once verified. */
    const serviceBackup = async (encrypt: boolean): Promise<{ ms: number; cpu: number; observed: number; record: any }> => {
      const cpu0 = busyCpuMs();
      const t0 = performance.now();
      const wallT0 = Date.now();
      const created = (await (await fetch(`${base}/api/v1/backups`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ target: 'bench', format: values.format, encrypt }),
      })).json()) as any;
      // Machine CPU sampled with the time, to read it off at the record's completedAt: the
      // verification that follows the backup must not count. The worker's RSS is sampled through
      // the backup and the verification that follows it (which may end before a poll sees it).
      const cpuAt: [number, number][] = [[wallT0, cpu0]];
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, vm(worker.pid!, 'VmRSS'));
        cpuAt.push([Date.now(), busyCpuMs()]);
      }, 50);
      let rec: any;
      for (;;) {
        rec = await (await fetch(`${base}/api/v1/backups/${created.id}`, { headers: { authorization: `Bearer ${token}` } })).json();
        if (!['QUEUED', 'RUNNING'].includes(rec.status)) break;
        if (performance.now() - t0 > 3_600_000) throw new Error('backup did not finish within an hour');
        await new Promise((r) => setTimeout(r, 1000));
      }
      const observed = performance.now() - t0;
      if (!['COMPLETED', 'VERIFIED'].includes(rec.status)) throw new Error(`backup ${rec.status}: ${rec.errorMessage}`);
      if (rec.encrypted !== encrypt) throw new Error(`backup encrypted=${rec.encrypted}, asked ${encrypt}`);
      const completedAt = new Date(rec.completedAt).getTime();
      const cpu = cpuAt.filter(([at]) => at <= completedAt).pop()![1] - cpu0;
      // The automatic verification runs next on the worker: wait for it (untimed) so it never
      // overlaps a shell measurement.
      while (rec.status === 'COMPLETED') {
        await new Promise((r) => setTimeout(r, 100));
        rec = await (await fetch(`${base}/api/v1/backups/${created.id}`, { headers: { authorization: `Bearer ${token}` } })).json();
      }
      clearInterval(sampler);
      return { ms: completedAt - wallT0, cpu, observed, record: rec };
    };
    for (let round = 0; round < rounds; round++) {
      const cpu0 = busyCpuMs();
      runs.zstd.push(await shellPipeline(db, ['zstd', '-3', '-q', '-c'], join(work, 'shell.sql.zst')));
      runs.zstdCpu.push(busyCpuMs() - cpu0);
      // Plain and encrypted alternate, starting with the other one each round.
      for (const encrypt of round % 2 ? [true, false] : [false, true]) {
        const r = await serviceBackup(encrypt);
        if (encrypt) {
          runs.serviceEncrypted.push(r.ms);
          runs.serviceEncryptedCpu.push(r.cpu);
          encrypted = r.record;
        } else {
          runs.service.push(r.ms);
          runs.serviceCpu.push(r.cpu);
          runs.serviceObserved.push(r.observed);
          record = r.record;
        }
      }
      runs.gzip.push(await shellPipeline(db, ['gzip', '-6', '-c'], join(work, 'shell.sql.gz')));
    }
    const hwm = vm(worker.pid!, 'VmHWM');
    stopChildren();
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    };
    const r = {
      sizeMb: mb,
      databaseBytes: dbBytes,
      dumpBytes: record.rawBytes,
      artifactBytes: record.sizeBytes,
      shellZstdBytes: statSync(join(work, 'shell.sql.zst')).size,
      serviceMs: Math.round(median(runs.service)),
      serviceObservedMs: Math.round(median(runs.serviceObserved)),
      serviceCpuMs: Math.round(median(runs.serviceCpu)),
      shellZstdCpuMs: Math.round(median(runs.zstdCpu)),
      serviceRecordMs: record.durationMs,
      shellZstdMs: Math.round(median(runs.zstd)),
      shellGzipMs: Math.round(median(runs.gzip)),
      ratioVsZstd: Math.round((median(runs.service) / median(runs.zstd)) * 1000) / 1000,
      // Each round runs the shell pipeline right before the service, so a round's own ratio
      // cancels most of what the machine's neighbours do; `best` compares the fastest of each.
      pairedRatioVsZstd: Math.round(median(runs.service.map((x, i) => x / runs.zstd[i])) * 1000) / 1000,
      bestRatioVsZstd: Math.round((Math.min(...runs.service) / Math.min(...runs.zstd)) * 1000) / 1000,
      ratioVsGzip: Math.round((median(runs.service) / median(runs.gzip)) * 1000) / 1000,
      encryptedMs: Math.round(median(runs.serviceEncrypted)),
      encryptedBytes: encrypted.sizeBytes,
      encryptedCpuMs: Math.round(median(runs.serviceEncryptedCpu)),
      // Encrypted (age to one recipient) against the same backup unencrypted, in the same run.
      encryptedRatio: Math.round((median(runs.serviceEncrypted) / median(runs.service)) * 1000) / 1000,
      pairedEncryptedRatio: Math.round(median(runs.serviceEncrypted.map((x, i) => x / runs.service[i])) * 1000) / 1000,
      workerIdleRssMb: Math.round(idleRss),
      workerPeakRssMb: Math.round(peakRss),
      workerHighWaterMb: Math.round(hwm),
      runs,
    };
    results.push(r);
  }
  rmSync(work, { recursive: true, force: true });
  const rows = results.map((r) =>
    `| ${r.sizeMb} MB | ${(r.dumpBytes / 2 ** 20).toFixed(0)} MB | ${r.serviceMs} | ${r.shellZstdMs} | ${r.shellGzipMs} | ${r.ratioVsZstd}× (paired ${r.pairedRatioVsZstd}×, best ${r.bestRatioVsZstd}×) | ${r.ratioVsGzip}× | ${r.serviceCpuMs} / ${r.shellZstdCpuMs} | ${r.workerIdleRssMb} | ${r.workerPeakRssMb} | ${r.workerHighWaterMb} |`,
  );
  const encRows = results.map((r) => `| ${r.sizeMb} MB | ${r.serviceMs} | ${r.encryptedMs} | ${r.encryptedRatio}× (paired ${r.pairedEncryptedRatio}×) | ${r.serviceCpuMs} / ${r.encryptedCpuMs} | ${(r.artifactBytes / 2 ** 20).toFixed(1)} / ${(r.encryptedBytes / 2 ** 20).toFixed(1)} | ${r.workerPeakRssMb} |`);
  process.stdout.write(
    ['| data | service plain ms | service encrypted (age) ms | encrypted / plain | machine CPU ms plain / encrypted | artifact MB plain / encrypted | worker peak RSS MB |', '|---|---|---|---|---|---|---|', ...encRows].join('\n') + '\n\n',
  );
  process.stdout.write(
    ['| data | dump | service ms | pg_dump\\|zstd -3 ms | pg_dump\\|gzip -6 ms | vs zstd | vs gzip | machine CPU ms service / zstd | worker idle RSS MB | worker peak RSS MB (backup + verify) | worker VmHWM MB (whole life) |', '|---|---|---|---|---|---|---|---|---|---|---|', ...rows].join('\n') + '\n',
  );
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const file = join(ROOT, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, rounds, format: values.format, results }, null, 2));
  process.stdout.write(`wrote ${file}\n`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).message}\n`);
  stopChildren();
  process.exit(1);
}
process.exit(0);
