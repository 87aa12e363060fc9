/**
 * PostgreSQL dump format: plain SQL against custom (`-Fc`) archives, measured on restore time.
 *
 *   npx tsc --outDir /tmp/bm-bench --module nodenext --target es2022 --types node bench/pg-format.ts
 *   node /tmp/bm-bench/pg-format.js --scale 20 --rounds 2
 *
 * Builds a pgbench database (scale 20 ≈ 300 MB), dumps it once in each format, then restores each
 * into fresh databases, alternating, `rounds` times: plain through psql's stdin, custom through
 * pg_restore's stdin (what a streaming restore does), and custom from a file with `-j 2`.
 * Prints a table and writes bench/results/pg-format-<time>.json.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5432' },
    user: { type: 'string', default: 'postgres' },
  },
});
const CONN = ['-h', values.host!, '-p', values.port!, '-U', values.user!];
const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

function run(cmd: string, args: string[], opts: { stdinFile?: string; stdoutFile?: string } = {}): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const out = opts.stdoutFile ? openSync(opts.stdoutFile, 'w', 0o600) : 'ignore';
    const p = spawn(cmd, args, { env: ENV, stdio: [opts.stdinFile ? 'pipe' : 'ignore', out, 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    if (opts.stdinFile) createReadStream(opts.stdinFile).pipe(p.stdin!);
    p.on('close', (code) => {
      if (typeof out === 'number') closeSync(out);
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`${cmd} exited ${code}: ${err.slice(0, 1000)}`));
    });
  });
}

const psql = (db: string, sql: string) => run('psql', [...CONN, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql]);

async function main(): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  const source = `bm_fmt_${tag}`;
  const dir = mkdtempSync(join(tmpdir(), 'bm-fmt-'));
  const plainFile = join(dir, 'db.sql');
  const customFile = join(dir, 'db.dump');
  const made: string[] = [source];
  try {
    await psql('postgres', `CREATE DATABASE ${source}`);
    const initMs = await run('pgbench', [...CONN, '-i', '-q', '-s', values.scale!, source]);
    const dumpPlainMs = await run('pg_dump', [...CONN, '-d', source, '--format=plain'], { stdoutFile: plainFile });
    const dumpCustomMs = await run('pg_dump', [...CONN, '-d', source, '--format=custom', '--compress=0'], { stdoutFile: customFile });
    const restores: Record<string, number[]> = { 'plain | psql': [], 'custom | pg_restore': [], 'custom file, pg_restore -j 2': [] };
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const kind of Object.keys(restores)) {
        const db = `bm_fmt_${tag}_r${round}_${Object.keys(restores).indexOf(kind)}`;
        made.push(db);
        await psql('postgres', `CREATE DATABASE ${db}`);
        const ms =
          kind === 'plain | psql'
            ? await run('psql', [...CONN, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db], { stdinFile: plainFile })
            : kind === 'custom | pg_restore'
              ? await run('pg_restore', [...CONN, '-d', db, '--no-owner', '--exit-on-error'], { stdinFile: customFile })
              : await run('pg_restore', [...CONN, '-d', db, '--no-owner', '--exit-on-error', '-j', '2', customFile]);
        restores[kind].push(Math.round(ms));
        await psql('postgres', `DROP DATABASE ${db}`);
        console.log(`round ${round + 1}: ${kind.padEnd(30)} ${(ms / 1000).toFixed(2)} s`);
      }
    }
    const result = {
      at: new Date().toISOString(),
      scale: Number(values.scale),
      initMs: Math.round(initMs),
      dumpMs: { plain: Math.round(dumpPlainMs), custom: Math.round(dumpCustomMs) },
      bytes: { plain: statSync(plainFile).size, custom: statSync(customFile).size },
      restoreMs: restores,
      medianRestoreMs: Object.fromEntries(Object.entries(restores).map(([k, v]) => [k, [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]])),
    };
    console.table(Object.entries(result.restoreMs).map(([k, v]) => ({ restore: k, runsMs: v.join(', '), medianMs: result.medianRestoreMs[k] })));
    console.log(JSON.stringify(result, null, 2));
    const out = join('bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, `pg-format-${result.at.replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2) + '\n');
  } finally {
    for (const db of made) await psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
