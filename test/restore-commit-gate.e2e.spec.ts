// @serial counts orphaned psql clients on the whole machine
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { BackupRecord } from '../src/backup/entities/backup-record.entity.js';
import { ProcessRunner, type SpawnOptions } from '../src/common/process-runner.js';
import { loadConfig } from '../src/config/env.js';
import type { BackupManagerOptions } from '../src/config/options.js';
import { PostgresEngine } from '../src/engines/postgres/postgres.engine.js';
import { PostgresRestorer } from '../src/engines/postgres/postgres.restorer.js';
import { ArtifactLoader } from '../src/restore/artifact-loader.js';
import { EncryptionKeys } from '../src/codecs/encryption-keys.js';
import { LocalStorage } from '../src/storage/local.storage.js';
import { TargetsService, type ResolvedTarget } from '../src/targets/targets.service.js';
import { testEnv, waitFor } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { pathWithoutSetpriv, ROOT } from './support/processes.js';
import { orphanClients } from './faults/support/faults.js';

/** The real ProcessRunner, noting every child it starts so the test can kill one of them. */
class WatchedRunner extends ProcessRunner {
  readonly children: Array<{ command: string; child: ChildProcess }> = [];
  override spawn(command: string, args: string[], opts: SpawnOptions): ChildProcess {
    const child = super.spawn(command, args, opts);
    this.children.push({ command, child });
    return child;
  }
}

/** `producer | consumer` between two children (argv only), into a Buffer. */
function pipeThrough(producer: [string, string[]], consumer?: [string, string[]]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const a = spawn(producer[0], producer[1], { stdio: ['ignore', 'pipe', 'inherit'] });
    const b = consumer ? spawn(consumer[0], consumer[1], { stdio: ['pipe', 'pipe', 'inherit'] }) : undefined;
    if (b) a.stdout.pipe(b.stdin);
    const out: Buffer[] = [];
    (b ?? a).stdout!.on('data', (d: Buffer) => out.push(d));
    (b ?? a).once('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${(b ? consumer! : producer)[0]} exited ${code}`))));
  });
}

/** `bytes` compressed by the zstd CLI at level 1. */
async function zstdOf(bytes: Buffer): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'gate-'));
  try {
    writeFileSync(join(dir, 'raw'), bytes);
    return await pipeThrough(['zstd', ['-1', '-q', '-c', join(dir, 'raw')]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const PG_DUMP = (db: string, ...extra: string[]): [string, string[]] => ['pg_dump', ['-h', '127.0.0.1', '-U', 'postgres', '--no-password', ...extra, db]];

async function digest(db: string): Promise<string> {
  const tables = await pgQuery<{ t: string }>(db, `SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
  const out: string[] = [];
  for (const { t } of tables) {
    const [r] = await pgQuery(db, `SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS h FROM "${t}" x`);
    out.push(`${t}:${r.n}:${r.h}`);
  }
  return out.join(' ');
}

/**
 * The commit gate of PostgreSQL restores, driven through the artifact loader with the real
 * ProcessRunner, psql, pg_restore and zstd: COMMIT only after the last verified byte.
 */
describe('PostgreSQL restores commit only a whole, verified dump', () => {
  let source: string;
  let dest: string;
  let options: BackupManagerOptions;
  let runner: WatchedRunner;
  let loader: ArtifactLoader;
  let restorer: PostgresRestorer;
  let target: ResolvedTarget;
  let oldDigest: string;
  let dataDir: string;
  let env: Record<string, string>;
  let blank: string;
  /** A zstd dump of 15 million empty-string rows (see `blank` in beforeAll). */
  let blankRecord: () => BackupRecord;

  /** Stores `bytes` as an artifact and returns the record a restore reads. */
  const artifact = (bytes: Buffer, extra: Partial<BackupRecord>): BackupRecord => {
    const id = randomUUID();
    const fileKey = `app/${id}.dump`;
    mkdirSync(join(options.storageDir, 'app'), { recursive: true });
    writeFileSync(join(options.storageDir, fileKey), bytes);
    return {
      id,
      fileKey,
      checksum: createHash('sha256').update(bytes).digest('hex'),
      sizeBytes: bytes.length,
      rawBytes: null,
      compression: 'none',
      format: 'plain',
      scope: 'full',
      tables: null,
      includeSchema: true,
      includeData: true,
      ...extra,
    } as BackupRecord;
  };
  const restore = (record: BackupRecord, signal = new AbortController().signal) => loader.restore(record, target, restorer, { database: dest, dropExisting: true, signal });
  const resetDest = async () => {
    await pgQuery(dest, `DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public; SELECT lo_unlink(oid) FROM pg_largeobject_metadata;
                         CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, 'old' FROM generate_series(1, 10) g;`);
    oldDigest = await digest(dest);
  };

  beforeAll(async () => {
    source = await createPgDatabase('gate_src');
    dest = await createPgDatabase('gate_dst');
    await pgQuery(source, `CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat('x', 1000) FROM generate_series(1, 2000) g;
                           CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small SELECT generate_series(1, 10);
                           CREATE TABLE docs (id int PRIMARY KEY, body oid); INSERT INTO docs VALUES (1, lo_from_bytea(0, 'first large object')), (2, lo_from_bytea(0, repeat('y', 100000)::bytea));`);
    env = testEnv({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${dest}` });
    dataDir = env.DATA_DIR;
    options = loadConfig(env).options;
    runner = new WatchedRunner();
    restorer = new PostgresRestorer(new PostgresEngine(runner, options), runner, options.tempDir);
    loader = new ArtifactLoader(new LocalStorage(options), runner, options, new EncryptionKeys(options));
    target = await new TargetsService(options).resolve('app');
    // Empty-string rows: COPY data of one newline per row, so wherever the stream is cut, the
    // last row looks complete, and only the missing COMMIT tells psql that the dump is not whole.
    blank = await createPgDatabase('gate_blank');
    await pgQuery(blank, `CREATE TABLE blank (v text); INSERT INTO blank SELECT '' FROM generate_series(1, 15000000);`);
    const raw = await pipeThrough(PG_DUMP(blank));
    const compressed = await pipeThrough(PG_DUMP(blank), ['zstd', ['-1', '-q', '-c']]);
    blankRecord = () => artifact(compressed, { compression: 'zstd', rawBytes: raw.length });
  }, 180_000);

  afterAll(async () => {
    runner?.killAll('SIGKILL');
    for (const db of [source, dest, blank]) if (db) await dropPgDatabase(db);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('a zstd child killed mid-stream: no COMMIT, the destination keeps its rows', async () => {
    await resetDest();
    const record = blankRecord();
    const from = runner.children.length;
    const restoring = restore(record);
    restoring.catch(() => undefined);
    // Once psql has been fed for a while, kill the decompressor alone.
    const deadline = Date.now() + 30_000;
    let zstd: ChildProcess | undefined;
    while (!(zstd = runner.children.slice(from).find((c) => c.command === 'zstd')?.child) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const psql = () => runner.children.slice(from).find((c) => basename(c.command) === 'psql')?.child;
    while (!psql() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 400));
    expect(zstd!.exitCode).toBeNull();
    zstd!.kill('SIGKILL');
    await expect(restoring).rejects.toThrow(/did not decompress to its end|zstd/);
    expect(await digest(dest)).toBe(oldDigest);
  }, 120_000);

  it('the worker dies mid-restore and psql outlives it: psql reads an end of input on a row boundary and commits nothing', async () => {
    await resetDest();
    const record = blankRecord();
    const bin = pathWithoutSetpriv();
    try {
      const worker = spawn(process.execPath, [join(ROOT, 'test', 'support', 'restore-then-die.mjs'), JSON.stringify(record)], {
        env: { ...env, PATH: bin, RESTORE_DATABASE: dest, DIE_AFTER_MS: '500' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      worker.stdout!.on('data', (d) => (out += d));
      worker.stderr!.on('data', (d) => (out += d));
      const [, signal] = await once(worker, 'exit');
      expect(signal).toBe('SIGKILL');
      expect(out).not.toMatch(/restore finished before the kill|Error/);
      // Its psql lives on until it has read the end of its input.
      await waitFor(async () => orphanClients(`PGDATABASE=${dest}`).length === 0, 'the orphaned psql to exit', 60_000);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
    expect(await digest(dest)).toBe(oldDigest);
  }, 180_000);

  it('a dump that decompresses to fewer bytes than were dumped is not committed', async () => {
    await resetDest();
    const raw = await pipeThrough(PG_DUMP(source));
    const record = artifact(raw, { rawBytes: raw.length + 1 });
    await expect(restore(record)).rejects.toThrow(/decompressed to \d+ bytes, but \d+ were dumped; nothing was restored/);
    expect(await digest(dest)).toBe(oldDigest);
  }, 120_000);

  it('a COMMIT inside the dump cannot end the restore early: refused, nothing committed', async () => {
    await resetDest();
    const sql = Buffer.from('CREATE TABLE early (x int);\nINSERT INTO early VALUES (1);\nCOMMIT;\nCREATE TABLE late (x int);\n');
    await expect(restore(artifact(sql, {}))).rejects.toThrow(/ends the restore's transaction itself/);
    expect(await digest(dest)).toBe(oldDigest);
    expect(await pgQuery(dest, `SELECT to_regclass('public.early') AS t`)).toEqual([{ t: null }]);
  }, 60_000);

  it.each(['plain', 'custom'] as const)('a %s dump with large objects restores whole, inside the one transaction', async (format) => {
    await resetDest();
    const bytes = await pipeThrough(PG_DUMP(source, ...(format === 'custom' ? ['--format=custom', '--compress=0'] : [])));
    if (format === 'plain') expect(bytes.toString('latin1')).toMatch(/\nBEGIN;\n[\s\S]*lo_open[\s\S]*\nCOMMIT;\n/);
    await restore(artifact(bytes, { format, rawBytes: bytes.length }));
    expect(await digest(dest)).toBe(await digest(source));
    const los = await pgQuery(dest, `SELECT id, length(lo_get(body)) AS n, convert_from(substr(lo_get(body), 1, 18), 'UTF8') AS head FROM docs ORDER BY id`);
    expect(los).toEqual([
      { id: 1, n: 18, head: 'first large object' },
      { id: 2, n: 100000, head: 'y'.repeat(18) },
    ]);
    // The unpacked archive is gone with its directory.
    expect(existsSync(options.tempDir) ? readdirSync(options.tempDir) : []).toEqual([]);
  }, 120_000);

  // Fewer than 3 jobs: one pg_restore fed by zstd as it unpacks; 3 or more: unpacked to a file
  // for `pg_restore --jobs`. Both load a scratch database that only a verified artifact renames in.
  it.each([1, 3])('a zstd custom archive into a new database with %i job(s): whole when good; when one byte is off, nothing, and no scratch database left', async (jobs) => {
    const jobsRestorer = new PostgresRestorer(new PostgresEngine(runner, options), runner, options.tempDir, jobs);
    const raw = await pipeThrough(PG_DUMP(source, '--format=custom', '--compress=0'));
    const zst = await zstdOf(raw);
    const scratch = async () => (await pgQuery('postgres', `SELECT datname FROM pg_database WHERE datname LIKE 'bm\\_rs\\_%'`)).map((r) => r.datname as string);
    const before = await scratch();
    const intoNew = (record: BackupRecord, database: string) =>
      loader.restore(record, target, jobsRestorer, { database, dropExisting: false, createdDatabase: true, signal: new AbortController().signal });

    const good = await createPgDatabase(`gate_new${jobs}`);
    try {
      await intoNew(artifact(zst, { format: 'custom', compression: 'zstd', rawBytes: raw.length }), good);
      expect(await digest(good)).toBe(await digest(source));
    } finally {
      await dropPgDatabase(good);
    }

    const bad = await createPgDatabase(`gate_bad${jobs}`);
    try {
      const record = artifact(zst, { format: 'custom', compression: 'zstd', rawBytes: raw.length });
      // Same size, one byte flipped near the end: the record's SHA-256 no longer matches.
      const flipped = Buffer.from(zst);
      flipped[flipped.length - 20] ^= 0x01;
      writeFileSync(join(options.storageDir, record.fileKey!), flipped);
      await expect(intoNew(record, bad)).rejects.toThrow(/checksum mismatch/);
      expect(await digest(bad)).toBe('');
    } finally {
      await dropPgDatabase(bad);
    }
    expect((await scratch()).filter((d) => !before.includes(d))).toEqual([]);
    expect(existsSync(options.tempDir) ? readdirSync(options.tempDir) : []).toEqual([]);
  }, 120_000);

  it('a whole custom archive into a database that does not exist yet: the rename into place creates it; before it, and after a failure, there is no such database', async () => {
    const oneJob = new PostgresRestorer(new PostgresEngine(runner, options), runner, options.tempDir, 1);
    const raw = await pipeThrough(PG_DUMP(source, '--format=custom', '--compress=0'));
    const zst = await zstdOf(raw);
    const record = () => artifact(zst, { format: 'custom', compression: 'zstd', rawBytes: raw.length });
    const exists = async (db: string) => (await pgQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [db])).length > 0;
    const scratch = async () => (await pgQuery('postgres', `SELECT datname FROM pg_database WHERE datname LIKE 'bm\\_rs\\_%'`)).map((r) => r.datname as string);
    const before = await scratch();
    const into = (rec: BackupRecord, database: string, beforeCommit?: () => Promise<void>) =>
      loader.restore(rec, target, oneJob, { database, dropExisting: false, createdDatabase: true, createAtCommit: true, signal: new AbortController().signal, beforeCommit });
    const [good, bad, taken] = ['_atc_good', '_atc_bad', '_atc_taken'].map((s) => `${source}${s}`);
    try {
      let existedBeforeCommit: boolean | undefined;
      await into(record(), good, async () => void (existedBeforeCommit = await exists(good)));
      expect(existedBeforeCommit).toBe(false);
      expect(await digest(good)).toBe(await digest(source));

      const damaged = record();
      const flipped = Buffer.from(zst);
      flipped[flipped.length - 20] ^= 0x01;
      writeFileSync(join(options.storageDir, damaged.fileKey!), flipped);
      await expect(into(damaged, bad)).rejects.toThrow(/checksum mismatch/);
      expect(await exists(bad)).toBe(false);

      // Someone creates a database of that name while the backup loads: theirs stays as it is.
      const err = await into(record(), taken, async () => {
        await pgQuery('postgres', `CREATE DATABASE "${taken}"`);
        await pgQuery(taken, 'CREATE TABLE theirs (id int); INSERT INTO theirs VALUES (7);');
      }).then(() => undefined, (e: Error) => e);
      expect(err?.message).toBe(`database ${taken} was created by someone else while the backup was being loaded; it was left as it is, and nothing of the backup was put there`);
      expect(await pgQuery(taken, 'SELECT id FROM theirs')).toEqual([{ id: 7 }]);
      expect(await pgQuery(taken, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).toEqual([{ n: 1 }]);
    } finally {
      for (const db of [good, bad, taken]) await dropPgDatabase(db);
    }
    expect((await scratch()).filter((d) => !before.includes(d))).toEqual([]);
    expect(existsSync(options.tempDir) ? readdirSync(options.tempDir) : []).toEqual([]);
  }, 120_000);

  // zstd hands pg_restore what it decodes while this process still hashes the file: pg_restore
  // fails on the damaged bytes and exits long before the SHA-256 is known. Its complaint is a
  // consequence; the reason reported is the artifact's checksum.
  it('pg_restore gives up on a damaged artifact before its checksum is known: the checksum mismatch is the reason', async () => {
    const oneJob = new PostgresRestorer(new PostgresEngine(runner, options), runner, options.tempDir, 1);
    // Incompressible, so zstd stores it as is and the file takes a while to hash.
    const zst = await zstdOf(randomBytes(48 << 20));
    const record = artifact(zst, { format: 'custom', compression: 'zstd', rawBytes: 48 << 20 });
    const flipped = Buffer.from(zst);
    flipped[100] ^= 0xff;
    writeFileSync(join(options.storageDir, record.fileKey!), flipped);
    const db = await createPgDatabase('gate_early');
    try {
      const err = await loader
        .restore(record, target, oneJob, { database: db, dropExisting: false, createdDatabase: true, signal: new AbortController().signal })
        .then(() => undefined, (e: Error) => e);
      expect(err?.message).toMatch(/checksum mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}/);
      expect(err?.message).not.toMatch(/pg_restore|magic string|too short|valid archive/);
    } finally {
      await dropPgDatabase(db);
    }
  }, 120_000);

  it('a custom archive is unpacked only where there is room for it: a clear error, nothing restored', async () => {
    await resetDest();
    const bytes = await pipeThrough(PG_DUMP(source, '--format=custom', '--compress=0'));
    await expect(restore(artifact(bytes, { format: 'custom', rawBytes: 2 ** 52 }))).rejects.toThrow(/not enough room in the temp directory .* to unpack the archive: it needs \d+ bytes/);
    expect(await digest(dest)).toBe(oldDigest);
  }, 60_000);
});
