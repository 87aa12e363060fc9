/**
 * `npm run bench [-- --sizes 256,1024 --rounds 3 --format custom|plain --engines postgres,mysql]` (custom is the
 * service default; `-- --catalog N` runs the large-catalog bench of bench/catalog.ts instead): builds PostgreSQL
 * and MariaDB databases of the given sizes (MB of table data), then for each times, in one run and alternating
 * with the shell path each round, through the real API and worker processes:
 * - PostgreSQL backups, plain and encrypted (age to one recipient), against `pg_dump | zstd -3 > file`
 *   and `pg_dump | gzip -6 > file`;
 * - PostgreSQL restores of the service's backup into a new database, against `createdb` +
 *   `pg_restore -j2` of a `pg_dump -Fc` file;
 * - MariaDB backups against `mariadb-dump --single-transaction --quick … | zstd -3 > file`;
 * - MariaDB restores into a new database, against `CREATE DATABASE` + `zstd -dc file | mariadb`;
 * sampling the worker's peak RSS on each path. Prints tables and writes bench/results/<time>.json.
 *
 * The service's time runs from just before `POST /backups` to the record's `completedAt` (set
 * once the artifact is durable under its key). The script learns of the end by polling the API
 * once a second: each poll costs the API and this script a few ms of CPU, which on a 2-core
 * machine already saturated by the dump slows the backup being measured (at 50 ms polls, by
 * ~0.3 s per GB). The first poll that saw the end is kept in the JSON as `serviceObservedMs`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ensureMysqlDatabase, myQuery, type MyConn } from './mysql-data.js';
import { Role } from '../src/auth/roles.js';
import { ensureBenchDatabase } from './pg-dataset.js';
import { startService, stopChildren } from './service.js';

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
    engines: { type: 'string', default: 'postgres,mysql' },
    'mysql-host': { type: 'string', default: '127.0.0.1' },
    'mysql-port': { type: 'string', default: '3306' },
    'mysql-user': { type: 'string', default: 'root' },
  },
});
const PG = { host: values.host!, port: Number(values.port), user: values.user! };
const MY: MyConn = { host: values['mysql-host']!, port: Number(values['mysql-port']), user: values['mysql-user']! };
const ENGINES = new Set(values.engines!.split(','));

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

/** A fresh age key pair in `dir` (age-keygen), one per size; its public key. */
function ageRecipient(dir: string, mb: number): string {
  const r = spawnSync('age-keygen', ['-o', join(dir, `bench-age-${mb}.key`)], { encoding: 'utf8' });
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

const PG_ENV = { PATH: process.env.PATH!, PGHOST: PG.host, PGPORT: String(PG.port), PGUSER: PG.user };
/** Client options for the MariaDB command-line tools (no password: the bench's server takes none). */
const MY_ARGS = [`--host=${MY.host}`, `--port=${MY.port}`, `--user=${MY.user}`];

/** The shell pipeline `pg_dump db | <codec> > file`, wired with kernel pipes but no shell. */
function shellPipeline(db: string, codec: string[], out: string): Promise<number> {
  return pipeline2(['pg_dump', db], codec, out);
}

/** `first | second [> out]` with kernel pipes and no shell; ms from spawn to both exited. */
function pipeline2(first: string[], second: string[], out?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const env = { ...PG_ENV };
    const a = spawn(first[0], first.slice(1), { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const fd = out ? openSync(out, 'w', 0o600) : 'ignore';
    const b = spawn(second[0], second.slice(1), { env, stdio: [a.stdout!, fd, 'inherit'] });
    let left = 2;
    const done = (code: number | null) => {
      if (code !== 0) reject(new Error(`${first[0]} | ${second[0]} exited ${code}`));
      if (--left === 0) {
        if (typeof fd === 'number') closeSync(fd);
        resolve(performance.now() - t0);
      }
    };
    a.on('exit', done);
    b.on('exit', done);
  });
}

/** One command to its end; ms. */
function runTimed(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(argv[0], argv.slice(1), { env: PG_ENV, stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${argv[0]} exited ${code}`))));
  });
}

/** The shell's MariaDB dump: the same options the service passes, into `zstd -3`. */
const mariadbDumpArgv = (db: string) => [
  'mariadb-dump',
  ...MY_ARGS,
  '--single-transaction',
  '--quick',
  '--hex-blob',
  '--default-character-set=utf8mb4',
  '--no-tablespaces',
  '--skip-dump-date',
  '--triggers',
  '--routines',
  '--events',
  '--',
  db,
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;
/** Service against shell on one path: medians, ratio of medians, median of the rounds' own ratios, ratio of the bests. */
function compare(service: number[], shell: number[]) {
  return {
    serviceMs: Math.round(median(service)),
    shellMs: Math.round(median(shell)),
    ratio: r3(median(service) / median(shell)),
    pairedRatio: r3(median(service.map((x, i) => x / shell[i]))),
    bestRatio: r3(Math.min(...service) / Math.min(...shell)),
    service: service.map(Math.round),
    shell: shell.map(Math.round),
  };
}


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
  const paths: any[] = [];
  for (const mb of sizes) {
    const db = await ensureDatabase(mb);
    const dbBytes = Number((await q(db, `SELECT pg_database_size(current_database()) AS s`))[0].s);
    const myDb = ENGINES.has('mysql') ? await ensureMysqlDatabase(MY, mb) : undefined;
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
      ...(myDb ? { BACKUP_TARGET_BENCHMY_URL: `mysql://${MY.user}@${MY.host}:${MY.port}/${myDb}` } : {}),
      // Encrypted backups are asked for with encrypt: true; the others stay plain.
      BACKUP_ENCRYPTION_RECIPIENTS: ageRecipient(work, mb),
      BACKUP_ENCRYPTION_DEFAULT: 'false',
    };
    // Admin: restores need it.
    const { worker, token, base } = await startService(env, Role.Admin, '4h');
    const idleRss = vm(worker.pid!, 'VmRSS');

    const runs: Record<string, number[]> = { service: [], serviceObserved: [], serviceCpu: [], zstd: [], zstdCpu: [], gzip: [], serviceEncrypted: [], serviceEncryptedCpu: [] };
    let peakRss = 0;
    let record: any;
    let encrypted: any;
    /** One backup through the API and worker: ms to completedAt, machine CPU ms, the record once verified. */
    const serviceBackup = async (encrypt: boolean, target = 'bench', format = values.format): Promise<{ ms: number; cpu: number; observed: number; record: any; rss: number }> => {
      const rss0 = peakRss;
      peakRss = 0;
      const cpu0 = busyCpuMs();
      const t0 = performance.now();
      const wallT0 = Date.now();
      const created = (await (await fetch(`${base}/api/v1/backups`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ target, format, encrypt }),
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
      const rss = peakRss;
      peakRss = Math.max(rss0, rss);
      return { ms: completedAt - wallT0, cpu, observed, record: rec, rss };
    };
    /** One restore of `backupId` through the API into the new database `into`: ms from the request to the run's completedAt, worker peak RSS. */
    const serviceRestore = async (backupId: string, into: string): Promise<{ ms: number; rss: number }> => {
      let rss = 0;
      const sampler = setInterval(() => (rss = Math.max(rss, vm(worker.pid!, 'VmRSS'))), 50);
      const wallT0 = Date.now();
      const res = await fetch(`${base}/api/v1/backups/${backupId}/restore`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ confirm: true, targetDatabase: into }),
      });
      const created = (await res.json()) as any;
      if (res.status !== 202) throw new Error(`restore request: ${res.status} ${JSON.stringify(created)}`);
      let run: any;
      for (;;) {
        run = await (await fetch(`${base}/api/v1/restores/${created.id}`, { headers: { authorization: `Bearer ${token}` } })).json();
        if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(run.status)) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      clearInterval(sampler);
      if (run.status !== 'COMPLETED') throw new Error(`restore ${run.status}: ${run.errorMessage}`);
      return { ms: new Date(run.completedAt).getTime() - wallT0, rss };
    };
    const dropPg = (name: string) => q('postgres', `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    const dropMy = (name: string) => myQuery(MY, `DROP DATABASE IF EXISTS \`${name}\``);
    const path = (engine: string, op: string, service: number[], shell: number[], shellName: string, rss: number[]) => {
      const load = loadavg().map((x) => x.toFixed(1)).join(' ');
      const p = { sizeMb: mb, engine, op, shellPath: shellName, ...compare(service, shell), workerPeakRssMb: Math.round(Math.max(...rss)), loadAverage: load };
      paths.push(p);
      process.stderr.write(`${mb} MB ${engine} ${op}: service ${p.serviceMs} ms, shell ${p.shellMs} ms, ${p.ratio}× (paired ${p.pairedRatio}×), RSS ${p.workerPeakRssMb} MB, load ${load}\n`);
    };
    for (let round = 0; round < (ENGINES.has('postgres') ? rounds : 0); round++) {
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
    if (ENGINES.has('postgres')) path('postgres', 'backup', runs.service, runs.zstd, 'pg_dump | zstd -3 > file', [peakRss]);

    // PostgreSQL restore into a new database, against createdb + pg_restore -j2 of a pg_dump -Fc file.
    const customDump = join(work, 'shell.dump');
    if (ENGINES.has('postgres')) await runTimed(['pg_dump', '-Fc', '-f', customDump, db]);
    const pgRestore = { service: [] as number[], shell: [] as number[], rss: [] as number[] };
    for (let round = 0; round < (ENGINES.has('postgres') ? rounds : 0); round++) {
      const shellFirst = round % 2 === 0;
      for (const which of shellFirst ? ['shell', 'service'] : ['service', 'shell']) {
        const into = `bench_restore_${which}`;
        await dropPg(into);
        if (which === 'shell') {
          const t0 = performance.now();
          await runTimed(['createdb', into]);
          await runTimed(['pg_restore', '-j2', '-d', into, customDump]);
          pgRestore.shell.push(performance.now() - t0);
        } else {
          const r = await serviceRestore(record.id, into);
          pgRestore.service.push(r.ms);
          pgRestore.rss.push(r.rss);
        }
        await dropPg(into);
      }
    }
    if (ENGINES.has('postgres')) path('postgres', 'restore (new database)', pgRestore.service, pgRestore.shell, 'createdb + pg_restore -j2 (pg_dump -Fc file)', pgRestore.rss);

    if (myDb) {
      // MariaDB backup against mariadb-dump | zstd -3 > file, alternating which goes first.
      const myBackup = { service: [] as number[], shell: [] as number[], rss: [] as number[] };
      const shellZst = join(work, 'shell-my.sql.zst');
      let myRecord: any;
      for (let round = 0; round < rounds; round++) {
        for (const which of round % 2 === 0 ? ['shell', 'service'] : ['service', 'shell']) {
          if (which === 'shell') myBackup.shell.push(await pipeline2(mariadbDumpArgv(myDb), ['zstd', '-3', '-q', '-c'], shellZst));
          else {
            const r = await serviceBackup(false, 'benchmy', 'plain');
            myBackup.service.push(r.ms);
            myBackup.rss.push(r.rss);
            myRecord = r.record;
          }
        }
      }
      path('mysql', 'backup', myBackup.service, myBackup.shell, 'mariadb-dump --single-transaction --quick … | zstd -3 > file', myBackup.rss);

      // MariaDB restore into a new database, against CREATE DATABASE + zstd -dc file | mariadb.
      const myRestore = { service: [] as number[], shell: [] as number[], rss: [] as number[] };
      for (let round = 0; round < rounds; round++) {
        for (const which of round % 2 === 0 ? ['shell', 'service'] : ['service', 'shell']) {
          const into = `bench_restore_my_${which}`;
          await dropMy(into);
          if (which === 'shell') {
            const t0 = performance.now();
            await myQuery(MY, `CREATE DATABASE \`${into}\``);
            await pipeline2(['zstd', '-dc', '-q', shellZst], ['mariadb', ...MY_ARGS, into]);
            myRestore.shell.push(performance.now() - t0);
          } else {
            const r = await serviceRestore(myRecord.id, into);
            myRestore.service.push(r.ms);
            myRestore.rss.push(r.rss);
          }
          await dropMy(into);
        }
      }
      path('mysql', 'restore (new database)', myRestore.service, myRestore.shell, 'CREATE DATABASE + zstd -dc file | mariadb', myRestore.rss);
    }

    const hwm = vm(worker.pid!, 'VmHWM');
    stopChildren();
    if (!record) continue;
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
    // The next size starts its own API and worker.
    await new Promise((r) => setTimeout(r, 1000));
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
  process.stdout.write(
    [
      '',
      '| data | engine | path | service ms | shell path | shell ms | service / shell (paired, best) | worker peak RSS MB | load average (1, 5, 15 min) after |',
      '|---|---|---|---|---|---|---|---|---|',
      ...paths.map((p) => `| ${p.sizeMb} MB | ${p.engine} | ${p.op} | ${p.serviceMs} | \`${p.shellPath.replace(/\|/g, '\\|')}\` | ${p.shellMs} | ${p.ratio}× (${p.pairedRatio}×, ${p.bestRatio}×) | ${p.workerPeakRssMb} | ${p.loadAverage} |`),
    ].join('\n') + '\n',
  );
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const file = join(ROOT, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, rounds, format: values.format, results, paths }, null, 2));
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
