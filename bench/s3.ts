/**
 * `npm run bench -- --s3 [--sizes 256,1024 --rounds 3]`: backups to an S3 server on loopback
 * against backups to local disk, in one run. For each size (the databases of bench/pg-dataset.ts),
 * an API and a worker process run with two destinations, `local` (STORAGE_DIR) and `offsite` (an
 * s3rver process on a loopback port, test/support/s3-server.mjs); each round backs up once to
 * each, alternating which goes first. Times run from just before `POST /backups` to the record's
 * `completedAt` (for S3: when the multipart upload is completed and the manifest written); the
 * worker's RSS is sampled every 50 ms through each backup and its verification. Prints a table and
 * writes bench/results/s3-<time>.json.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { signToken } from '../src/auth/token-verifier.js';
import { Role } from '../src/auth/roles.js';
import { ensureBenchDatabase } from './pg-dataset.js';
import { rawUpload } from './s3-raw.js';
import { startService, stopChildren, track } from './service.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: {
    s3: { type: 'boolean' },
    sizes: { type: 'string', default: '256,1024' },
    rounds: { type: 'string', default: '3' },
    'part-mb': { type: 'string' },
    'parts-in-flight': { type: 'string' },
    format: { type: 'string', default: 'custom' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5432' },
    user: { type: 'string', default: 'postgres' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});
const PG = { host: values.host!, port: Number(values.port), user: values.user! };
const partSize = Number(values['part-mb'] ?? 8) * 2 ** 20;
const partsInFlight = Number(values['parts-in-flight'] ?? 2);


function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function vmRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds of a process itself and of its children it has waited for (pg_dump, zstd), from /proc. */
function cpuOf(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 of stat (utime, stime, cutime, cstime), in clock ticks of 1/100 s.
  return { self: (Number(f[11]) + Number(f[12])) / 100, children: (Number(f[13]) + Number(f[14])) / 100 };
}
const cpuDelta = (a: ReturnType<typeof cpuOf>, b: ReturnType<typeof cpuOf>) => ({ self: round1(b.self - a.self), children: round1(b.children - a.children) });
const round1 = (x: number) => Math.round(x * 10) / 10;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The S3 test server in its own process (so its memory and CPU are not the worker's). */
async function startS3(dir: string, accessKeyId: string, secret: string): Promise<{ endpoint: string; pid: number }> {
  const child = track(
    spawn(process.execPath, [join(ROOT, 'test/support/s3-server.mjs')], {
      env: { PATH: process.env.PATH!, S3_DIR: dir, S3_PORT: '0', S3_BUCKETS: 'bench', S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secret },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`the S3 server exited (${code})`)));
  });
  return { endpoint: `http://127.0.0.1:${port}`, pid: child.pid! };
}

async function main() {
  const sizes = values.sizes!.split(',').map(Number);
  const rounds = Number(values.rounds);
  const work = mkdtempSync(join(tmpdir(), 'bm-bench-s3-'));
  const results: any[] = [];
  for (const mb of sizes) {
    const db = await ensureBenchDatabase(PG, mb);
    const accessKeyId = `AKBENCH${randomBytes(4).toString('hex').toUpperCase()}`;
    const secret = randomBytes(20).toString('hex');
    const secretFile = join(work, `s3-secret-${mb}`);
    writeFileSync(secretFile, secret, { mode: 0o600 });
    const s3Dir = join(work, `s3-${mb}`);
    mkdirSync(s3Dir);
    const s3 = await startS3(s3Dir, accessKeyId, secret);
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
      BACKUP_STORAGE_OFFSITE_URL: `s3://bench/backups?endpoint=${encodeURIComponent(s3.endpoint)}&region=us-east-1&forcePathStyle=true`,
      BACKUP_STORAGE_OFFSITE_ACCESS_KEY_ID: accessKeyId,
      BACKUP_STORAGE_OFFSITE_SECRET_ACCESS_KEY_FILE: secretFile,
      ...(values['part-mb'] ? { S3_PART_SIZE_MB: values['part-mb'] } : {}),
      ...(values['parts-in-flight'] ? { S3_PARTS_IN_FLIGHT: values['parts-in-flight'] } : {}),
    };
    const { worker, token, base } = await startService(env, Role.Operator, '2h');
    const idleRss = vmRss(worker.pid!);
    const get = async (id: string) => (await fetch(`${base}/api/v1/backups/${id}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<any>;

    const drop = (id: string) =>
      fetch(`${base}/api/v1/backups/${id}?hard=true`, { method: 'DELETE', headers: { authorization: `Bearer ${signToken(env.JWT_SECRET, { sub: 'bench', role: Role.Admin }, { expiresIn: '1h' })}` } });
    /** One backup to `storage`: ms to completedAt and the worker's peak RSS through it and its verification. */
    const backup = async (storage: 'local' | 'offsite') => {
      const wallT0 = Date.now();
      const created = (await (await fetch(`${base}/api/v1/backups`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ target: 'bench', format: values.format, storages: [storage], description: `bench ${storage}` }),
      })).json()) as any;
      const cpu0 = { worker: cpuOf(worker.pid!), s3: cpuOf(s3.pid) };
      const samples: Array<[number, number]> = [];
      const sampler = setInterval(() => void samples.push([Date.now(), vmRss(worker.pid!)]), 50);
      let rec: any;
      for (;;) {
        rec = await get(created.id);
        if (!['QUEUED', 'RUNNING'].includes(rec.status)) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      // CPU seconds up to the backup's end (its verification starts right after).
      const cpu = { worker: cpuDelta(cpu0.worker, cpuOf(worker.pid!)), s3rver: cpuDelta(cpu0.s3, cpuOf(s3.pid)).self };
      if (!['COMPLETED', 'VERIFIED'].includes(rec.status)) throw new Error(`backup to ${storage} ${rec.status}: ${rec.errorMessage}`);
      while (rec.status === 'COMPLETED') {
        await new Promise((r) => setTimeout(r, 100));
        rec = await get(created.id);
      }
      clearInterval(sampler);
      if (rec.status !== 'VERIFIED') throw new Error(`backup to ${storage} did not verify: ${rec.errorMessage}`);
      const completed = new Date(rec.completedAt).getTime();
      const ms = completed - wallT0;
      // Peaks while the backup ran (to completedAt) and while it was verified.
      const peakOf = (keep: (t: number) => boolean) => Math.max(0, ...samples.filter(([t]) => keep(t)).map(([, r]) => r));
      return { ms, cpu, peak: peakOf(() => true), backupPeak: peakOf((t) => t <= completed), verifyPeak: peakOf((t) => t > completed), rec };
    };
    const runs = { local: [] as number[], s3: [] as number[], localPeak: [] as number[], s3Peak: [] as number[], rawParts: [] as number[], rawComplete: [] as number[], s3BackupPeak: [] as number[], s3VerifyPeak: [] as number[], cpu: [] as unknown[], rawCpu: [] as unknown[] };
    let sample: any;
    for (let round = 0; round < rounds; round++) {
      for (const storage of round % 2 ? (['offsite', 'local'] as const) : (['local', 'offsite'] as const)) {
        const r = await backup(storage);
        runs[storage === 'local' ? 'local' : 's3'].push(r.ms);
        runs[storage === 'local' ? 'localPeak' : 's3Peak'].push(r.peak);
        if (storage === 'offsite') {
          runs.s3BackupPeak.push(r.backupPeak);
          runs.s3VerifyPeak.push(r.verifyPeak);
        }
        sample = r.rec;
        process.stderr.write(
          `${mb} MB round ${round + 1} ${storage}: ${r.ms} ms, worker peak ${r.backupPeak.toFixed(0)} MB backing up, ${r.verifyPeak.toFixed(0)} MB verifying; ` +
            `CPU s: worker ${r.cpu.worker.self}, pg_dump+zstd ${r.cpu.worker.children}, s3rver ${r.cpu.s3rver}\n`,
        );
        runs.cpu.push({ storage, ...r.cpu });
        if (storage === 'local') {
          // The S3 server alone: the same artifact's bytes uploaded by the SDK from the file.
          const before = { s3: cpuOf(s3.pid), me: process.cpuUsage() };
          const raw = await rawUpload({ endpoint: s3.endpoint, bucket: 'bench', accessKeyId, secretAccessKey: secret, file: join(env.DATA_DIR, 'backups', r.rec.fileKey), partSize, partsInFlight });
          runs.rawParts.push(raw.partsMs);
          runs.rawComplete.push(raw.completeMs);
          const rawCpu = { sdk: round1(((u) => (u.user + u.system) / 1e6)(process.cpuUsage(before.me))), s3rver: cpuDelta(before.s3, cpuOf(s3.pid)).self };
          runs.rawCpu.push(rawCpu);
          process.stderr.write(`${mb} MB round ${round + 1} SDK alone: parts ${raw.partsMs} ms, complete ${raw.completeMs} ms; CPU s: SDK ${rawCpu.sdk}, s3rver ${rawCpu.s3rver}\n`);
        }
        // Each backup is deleted once measured: disk and bucket stay small between rounds.
        await drop(r.rec.id);
      }
    }
    stopChildren();
    await new Promise((r) => setTimeout(r, 500));
    results.push({
      sizeMb: mb,
      dumpBytes: sample.rawBytes,
      artifactBytes: sample.sizeBytes,
      localMs: Math.round(median(runs.local)),
      s3Ms: Math.round(median(runs.s3)),
      ratio: round3(median(runs.s3) / median(runs.local)),
      pairedRatio: round3(median(runs.s3.map((x, i) => x / runs.local[i]))),
      workerIdleRssMb: Math.round(idleRss),
      workerPeakRssLocalMb: Math.round(Math.max(...runs.localPeak)),
      workerPeakRssS3Mb: Math.round(Math.max(...runs.s3Peak)),
      rawPartsMs: Math.round(median(runs.rawParts)),
      rawCompleteMs: Math.round(median(runs.rawComplete)),
      load: loadavg().map((x) => Math.round(x * 100) / 100),
      runs,
    });
  }
  rmSync(work, { recursive: true, force: true });
  const rows = results.map(
    (r) =>
      `| ${r.sizeMb} MB | ${(r.dumpBytes / 2 ** 20).toFixed(0)} → ${(r.artifactBytes / 2 ** 20).toFixed(0)} MB | ${r.localMs} | ${r.s3Ms} | ${r.ratio}× (paired ${r.pairedRatio}×) | ${r.rawPartsMs} + ${r.rawCompleteMs} | ${r.workerIdleRssMb} | ${r.workerPeakRssLocalMb} | ${r.workerPeakRssS3Mb} | ${r.load.join(' ')} |`,
  );
  process.stdout.write(
    [
      '| data | dump → artifact | local ms | S3 ms | S3 / local | SDK alone: parts + complete ms | worker idle RSS MB | worker peak RSS MB, local | worker peak RSS MB, S3 | load average after |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n') + '\n',
  );
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const file = join(ROOT, 'bench', 'results', `s3-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, rounds, format: values.format, partSize, partsInFlight, results }, null, 2));
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
