// @serial fault suite: kills, freezes and restarts processes and servers, and counts every dump client on the machine
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { dropQueueKeys, REDIS_URL, testEnv } from '../support/app.js';
import { createMyDatabase, dropMyDatabase, myIdent, myQuery, myUrl } from '../support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from '../support/pg.js';
import { childPids, commandOf, freePort, pathWithoutSetpriv, startProcess, waitForHttp, type Proc } from '../support/processes.js';
import { client, entriesUnder, sleep, type Client } from './support/faults.js';

/** `RESTORE_KILL_LOOPS` (default 12): how many workers are SIGKILLed during a restore. */
const LOOPS = Number(process.env.RESTORE_KILL_LOOPS ?? 12);
const KINDS = ['pg-plain', 'pg-custom', 'mariadb', 'pg-table', 'mariadb-table', 'pg-new'] as const;
type Kind = (typeof KINDS)[number];
const TARGET: Record<Kind, string> = { 'pg-plain': 'pgp', 'pg-custom': 'pgc', mariadb: 'my', 'pg-table': 'pgc', 'mariadb-table': 'my', 'pg-new': 'pgc' };
/** Table-level restores (`tables`) out of the full backup of another kind, into its database. */
const TABLE_RESTORE: Partial<Record<Kind, { of: Kind; tables: string[] }>> = {
  'pg-table': { of: 'pg-custom', tables: ['big', 'small_a'] },
  'mariadb-table': { of: 'mariadb', tables: ['big', 'small_a'] },
};
/**
 * `pg-new`: the custom archive restored into a new database (`pg_restore` into a scratch
 * database renamed into place, which creates it). Old there is no such database (an empty one
 * left behind is neither old nor new); new is the backup's data.
 */
const INTO_NEW: Partial<Record<Kind, Kind>> = { 'pg-new': 'pg-custom' };
/** The digest of a database whose `tables` hold `fresh`'s rows and the rest `old`'s. */
const mixDigest = (fresh: string, old: string, tables: string[]) =>
  old
    .split(' ')
    .map((part, i) => (tables.includes(part.split('=')[0]) ? fresh.split(' ')[i] : part))
    .join(' ');
/** Rows of `big`: enough that a restore takes a few seconds here (MariaDB loads more slowly). */
const BIG_PG = 300_000;
const BIG_MY = 500_000;
/**
 * Rows of PostgreSQL's `blank`: empty strings, so its COPY data is one newline per row and a
 * stream cut anywhere in it ends on a row boundary, which COPY accepts as a complete load.
 */
const BLANK = 4_000_000;
const RESTORE_CHILD = /(^|\/)(psql|pg_restore|mariadb|mysql|zstd)( |$)/;
const SCRATCH = /\b(bm_(?:rs|drill)_[0-9a-f]{12})\b/;

/** Every table's row count and an md5 of its rows in key order: equal digests, equal data. */
async function pgDigest(db: string): Promise<string> {
  const out: string[] = [];
  for (const t of ['big', 'blank', 'small_a', 'small_b']) {
    const agg = t === 'blank' ? `string_agg(x.v, E'\\n')` : `string_agg(x.id || ':' || x.v, E'\\n' ORDER BY x.id)`;
    const rows = await pgQuery(db, `SELECT count(*)::int AS n, md5(coalesce(${agg}, '')) AS h FROM ${t} x`).catch(
      (e: Error) => [{ n: -1, h: e.message }],
    );
    out.push(`${t}=${rows[0].n}/${rows[0].h}`);
  }
  return out.join(' ');
}

async function myDigest(db: string): Promise<string> {
  const out: string[] = [];
  for (const t of ['big', 'small_a', 'small_b']) {
    const rows = await myQuery(db, ['SET SESSION group_concat_max_len = 1073741824', `SELECT COUNT(*) AS n, MD5(COALESCE(GROUP_CONCAT(CONCAT(id, ':', v) ORDER BY id SEPARATOR '\\n'), '')) AS h FROM ${myIdent(t)}`]).catch(
      (e: Error) => [{ n: -1, h: e.message }],
    );
    out.push(`${t}=${Number(rows[0].n)}/${rows[0].h}`);
  }
  return out.join(' ');
}

/** Pids still alive (zombies count as gone: their parent just has not reaped them yet). */
function alive(pids: number[]): number[] {
  return pids.filter((p) => {
    try {
      return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, 'utf8'));
    } catch {
      return false;
    }
  });
}

/**
 * One API process and one worker at a time. A restore of a PostgreSQL plain dump, a custom archive
 * or a MariaDB dump, or of two tables out of the custom archive or the MariaDB dump, or of the
 * custom archive into a new database, is started over a database in a known "old" state, and the worker's node
 * process ONLY (not its children) is SIGKILLed at a random point of it, as the OOM killer would.
 * Each time the database must hold the old data or the backup's, never a mix; the interrupted run
 * must end FAILED saying which, and must never run again: rows the application writes after the
 * kill survive the next worker picking the stalled job up.
 */
describe(`SIGKILL the worker's node process during restores, ${LOOPS} times`, () => {
  let env: Record<string, string>;
  let port: number;
  let c: Client;
  let pgPlain: string;
  let pgCustom: string;
  let my: string;
  const procs: Proc[] = [];
  let worker: Proc;
  const backupOf: Partial<Record<Kind, string>> = {};
  const newDigest: Partial<Record<Kind, string>> = {};
  const oldDigest: Partial<Record<Kind, string>> = {};
  const restoreMs: Partial<Record<Kind, number>> = {};
  const scratchSeen = new Set<string>();

  let pgNew: string;
  const dbOf = (k: Kind) => (k === 'pg-plain' ? pgPlain : k === 'pg-new' ? pgNew : k === 'pg-custom' || k === 'pg-table' ? pgCustom : my);
  const isMy = (k: Kind) => k === 'mariadb' || k === 'mariadb-table';
  const pgExists = async (db: string) => (await pgQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [db])).length > 0;
  const digest = async (k: Kind) => {
    if (isMy(k)) return myDigest(my);
    if (INTO_NEW[k] && !(await pgExists(dbOf(k)))) return 'absent';
    return pgDigest(dbOf(k));
  };
  let noPdeathsigPath = '';
  /**
   * Every other loop runs on a worker whose children get no parent-death signal, swapped on each
   * pass over the kinds so that each kind meets both (KINDS has an even length).
   */
  const pdeathsigIn = (loop: number) => (loop + Math.floor(loop / KINDS.length)) % 2 === 0;
  const startWorker = (pdeathsig = true) => {
    const w = startProcess('worker', pdeathsig ? env : { ...env, PATH: noPdeathsigPath });
    procs.push(w);
    return w;
  };
  const output = () => procs.map((p) => `[${p.child.pid} exit ${p.child.exitCode ?? p.child.signalCode}] ${p.output().slice(-2000)}`).join('\n---\n');

  /** The "old" state, reached the same way from the backup's state, the old one, or either plus the application's rows. */
  const makeOld = async (k: Kind) => {
    if (INTO_NEW[k]) {
      await pgQuery('postgres', `DROP DATABASE IF EXISTS "${pgNew}" WITH (FORCE)`);
    } else if (isMy(k)) {
      await myQuery(my, [
        `DELETE FROM big WHERE id > ${BIG_MY / 2}`,
        `UPDATE small_a SET v = 'old' WHERE v <> 'old'`,
        'DELETE FROM small_b WHERE id > 60',
        `INSERT IGNORE INTO small_b SELECT seq, CONCAT('old ', seq) FROM seq_51_to_60`,
      ]);
    } else {
      await pgQuery(dbOf(k), `DELETE FROM big WHERE id > ${BIG_PG / 2}; TRUNCATE blank; INSERT INTO blank SELECT '' FROM generate_series(1, 1000); UPDATE small_a SET v = 'old' WHERE v <> 'old'; DELETE FROM small_b WHERE id > 60;
                              INSERT INTO small_b SELECT g, 'old ' || g FROM generate_series(51, 60) g ON CONFLICT DO NOTHING;`);
    }
  };
  // A restore into a new database has no application yet: its rows go to the source database.
  const appWrite = (k: Kind, id: number) =>
    INTO_NEW[k] ? pgQuery(pgCustom, 'INSERT INTO small_b VALUES ($1, $2) ON CONFLICT DO NOTHING', [id, 'app']).then(() => undefined)
    : isMy(k) ? myQuery(my, 'INSERT INTO small_b VALUES (?, ?)', [id, 'app']) : pgQuery(dbOf(k), 'INSERT INTO small_b VALUES ($1, $2)', [id, 'app']);
  const appRows = async (k: Kind, id: number) =>
    Number((INTO_NEW[k] ? await pgQuery(pgCustom, 'SELECT count(*)::int AS n FROM small_b WHERE id = $1', [id]) : isMy(k) ? await myQuery(my, 'SELECT COUNT(*) AS n FROM small_b WHERE id = ?', [id]) : await pgQuery(dbOf(k), 'SELECT count(*)::int AS n FROM small_b WHERE id = $1', [id]))[0].n);
  const restoreChildren = (w: Proc) => childPids(w.child.pid!).filter((p) => RESTORE_CHILD.test(commandOf(p)));
  const getRun = async (id: string) => (await c.call('GET', `/api/v1/restores/${id}`)).body;
  const waitRun = async (id: string, pred: (r: any) => boolean, what: string, timeoutMs = 90_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await getRun(id).catch(() => undefined);
      if (r && pred(r)) return r;
      if (Date.now() > deadline) throw new Error(`restore ${id}: ${what} not reached in ${timeoutMs} ms: ${JSON.stringify(r)}\n${output()}`);
      await sleep(100);
    }
  };
  const requestRestore = async (k: Kind) => {
    const only = TABLE_RESTORE[k];
    const into = INTO_NEW[k] ? { targetDatabase: pgNew } : {};
    const r = await c.call('POST', `/api/v1/backups/${backupOf[only?.of ?? INTO_NEW[k] ?? k]}/restore`, { confirm: true, safetyBackup: false, ...into, ...(only ? { tables: only.tables } : {}) });
    if (r.status !== 202) throw new Error(`restore request: ${r.status} ${r.text}`);
    return r.body.id as string;
  };
  /** Waits until `w` runs a restore client; returns the moment it was first seen. */
  const waitForClient = async (w: Proc, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (restoreChildren(w).length) return Date.now();
      if (Date.now() > deadline || w.child.exitCode !== null) throw new Error(`no restore client appeared under worker ${w.child.pid}\n${output()}`);
      await sleep(5);
    }
  };

  beforeAll(async () => {
    pgPlain = await createPgDatabase('rkill_plain');
    pgCustom = await createPgDatabase('rkill_custom');
    my = await createMyDatabase('rkill');
    pgNew = `${pgCustom}_new`;
    for (const db of [pgPlain, pgCustom]) {
      await pgQuery(db, `CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, ${BIG_PG}) g;
                         CREATE TABLE blank (v text); INSERT INTO blank SELECT '' FROM generate_series(1, ${BLANK});
                         CREATE TABLE small_a (id int PRIMARY KEY, v text); INSERT INTO small_a SELECT g, 'a ' || g FROM generate_series(1, 100) g;
                         CREATE TABLE small_b (id int PRIMARY KEY, v text); INSERT INTO small_b SELECT g, 'b ' || g FROM generate_series(1, 50) g;`);
    }
    await myQuery(my, [
      'CREATE TABLE big (id int PRIMARY KEY, v varchar(64))',
      `INSERT INTO big SELECT seq, MD5(seq) FROM seq_1_to_${BIG_MY}`,
      'CREATE TABLE small_a (id int PRIMARY KEY, v varchar(64))',
      `INSERT INTO small_a SELECT seq, CONCAT('a ', seq) FROM seq_1_to_100`,
      'CREATE TABLE small_b (id int PRIMARY KEY, v varchar(64))',
      `INSERT INTO small_b SELECT seq, CONCAT('b ', seq) FROM seq_1_to_50`,
    ]);
    noPdeathsigPath = pathWithoutSetpriv();
    port = await freePort();
    env = testEnv({
      PORT: String(port),
      BACKUP_TARGET_PGP_URL: `postgres://postgres@127.0.0.1:5432/${pgPlain}`,
      BACKUP_TARGET_PGC_URL: `postgres://postgres@127.0.0.1:5432/${pgCustom}`,
      BACKUP_TARGET_MY_URL: myUrl(my),
      JOB_LOCK_DURATION_MS: '3000',
      JOB_STALLED_INTERVAL_MS: '1000',
      LOG_LEVEL: 'warn',
    });
    c = client(`http://127.0.0.1:${port}`, env.JWT_SECRET);
    procs.push(startProcess('main', { ...env, APP_ROLE: 'api' }));
    await waitForHttp(`http://127.0.0.1:${port}/health/live`);
    worker = startWorker();

    const fullKinds = KINDS.filter((k) => !TABLE_RESTORE[k] && !INTO_NEW[k]);
    for (const k of fullKinds) newDigest[k] = await digest(k);
    const ids = await Promise.all(
      fullKinds.map(async (k) => (await c.call('POST', '/api/v1/backups', { target: TARGET[k], ...(k === 'pg-custom' ? { format: 'custom' } : {}) })).body.id as string),
    );
    for (const [i, k] of fullKinds.entries()) {
      const b = await c.waitUntil(ids[i], (x) => !['QUEUED', 'RUNNING', 'COMPLETED'].includes(x.status), 'verification', 180_000).catch((e: Error) => {
        throw new Error(`${e.message}\n${output()}`);
      });
      expect(b.status).toBe('VERIFIED');
      backupOf[k] = b.id;
    }
    // One undisturbed restore of each kind: how long it takes here, from its first child on.
    for (const k of KINDS) {
      await makeOld(k);
      oldDigest[k] = await digest(k);
      const only = TABLE_RESTORE[k];
      if (only) newDigest[k] = mixDigest(newDigest[only.of]!, oldDigest[k]!, only.tables);
      if (INTO_NEW[k]) newDigest[k] = newDigest[INTO_NEW[k]!];
      expect(oldDigest[k]).not.toBe(newDigest[k]);
      const id = await requestRestore(k);
      const seen = await waitForClient(worker);
      const run = await waitRun(id, (r) => !['QUEUED', 'RUNNING'].includes(r.status), 'the end');
      expect(run.errorMessage).toBeNull();
      expect(run.status).toBe('COMPLETED');
      restoreMs[k] = Date.now() - seen;
      expect(await digest(k)).toBe(newDigest[k]);
    }
  }, 300_000);

  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await dropQueueKeys(env.QUEUE_PREFIX);
    for (const db of [pgPlain, pgCustom, pgNew]) if (db) await dropPgDatabase(db);
    for (const s of scratchSeen) await pgQuery('postgres', `DROP DATABASE IF EXISTS "${s}" WITH (FORCE)`).catch(() => undefined);
    if (my) await dropMyDatabase(my);
    if (noPdeathsigPath) rmSync(noPdeathsigPath, { recursive: true, force: true });
    for (const s of scratchSeen) await myQuery(undefined, `DROP DATABASE IF EXISTS ${myIdent(s)}`).catch(() => undefined);
  });

  it('leaves every database old or new, never half; the run ends FAILED naming which and never runs again', async () => {
    const t0 = Date.now();
    const problems: string[] = [];
    const outcomes: string[] = [];
    for (let i = 0; i < LOOPS; i++) {
      const k = KINDS[i % KINDS.length];
      await makeOld(k);
      const old = await digest(k);
      expect(old).toBe(oldDigest[k]);

      const id = await requestRestore(k);
      const seen = await waitForClient(worker);
      // The replacement boots while the restore runs; it cannot take the job until it stalls.
      const next = startWorker(pdeathsigIn(i + 1));
      const delay = Math.floor(Math.random() * restoreMs[k]! * 1.1);
      await sleep(Math.max(0, seen + delay - Date.now()));
      const kids = childPids(worker.child.pid!);
      for (const p of kids) SCRATCH.exec(commandOf(p))?.slice(1).forEach((s) => scratchSeen.add(s));
      worker.child.kill('SIGKILL');
      await worker.exited;
      const statusAtKill = (await getRun(id)).status;

      // With the parent-death signal they die with the worker; without it they must stop on
      // their own at the end of their input, having committed nothing.
      const mode = pdeathsigIn(i) ? 'pdeathsig' : 'no-pdeathsig';
      const deadline = Date.now() + (pdeathsigIn(i) ? 3000 : 20_000);
      while (alive(kids).length && Date.now() < deadline) await sleep(50);
      const survivors = alive(kids);
      if (survivors.length) problems.push(`loop ${i} ${k} ${mode}: children outlived their worker: ${survivors.map((p) => commandOf(p).slice(0, 80)).join('; ')}`);

      const after = await digest(k);
      const state = after === old ? 'old' : after === newDigest[k] ? 'new' : 'HALF';
      if (state === 'HALF') problems.push(`loop ${i} ${k} ${mode} (killed ${delay} ms in): neither old nor new: ${after}`);
      // The application goes on writing, before any worker could pick the job up again.
      const appId = 100_000 + i;
      await appWrite(k, appId);

      worker = next;
      const run = await waitRun(id, (r) => !['QUEUED', 'RUNNING'].includes(r.status), 'the end of the interrupted run');
      // Let the new worker see the job at least once more before judging (stalled check, reconciler).
      await sleep(2500);
      const final = await getRun(id);
      outcomes.push(`${k}/${mode}:${delay}ms:${state}:${final.status}`);
      if (final.status !== run.status) problems.push(`loop ${i} ${k}: the run changed from ${run.status} to ${final.status}`);
      if (INTO_NEW[k] && (await digest(k)) !== after) problems.push(`loop ${i} ${k}: the new database changed after the kill: the restore ran again`);
      if ((await appRows(k, appId)) !== 1) problems.push(`loop ${i} ${k}: the application's row written after the kill is gone: the restore ran again (run ${JSON.stringify(final)})`);
      if (final.status === 'COMPLETED') {
        if (statusAtKill !== 'COMPLETED') problems.push(`loop ${i} ${k}: the run was ${statusAtKill} at the kill but ended COMPLETED: it ran again`);
        if (state !== 'new') problems.push(`loop ${i} ${k}: COMPLETED but the database is ${state}`);
      } else if (final.status === 'FAILED' || final.status === 'CANCELLED') {
        const named = state === 'old' ? /previous contents|was not changed|neither|nothing of the backup/ : /whole backup|swap/;
        if (!named.test(final.errorMessage ?? '')) problems.push(`loop ${i} ${k}: ${final.status} without naming the state (${state}): ${final.errorMessage}`);
        if (!/not run again|new request/.test(final.errorMessage ?? '')) problems.push(`loop ${i} ${k}: the message does not say it will not run again: ${final.errorMessage}`);
      } else {
        problems.push(`loop ${i} ${k}: run ended ${final.status}`);
      }
      if (final.attempts > 1 && final.status === 'COMPLETED') problems.push(`loop ${i} ${k}: ${final.attempts} attempts`);
    }

    // The scratch databases the killed workers left are dropped by the next worker's janitor.
    const scratch = [...scratchSeen];
    // The janitor works on its own clock (a lease expires, then a sweep): a database a killed
    // worker already dropped can stay registered for a few seconds. Both must end empty.
    const deadline = Date.now() + 30_000;
    const redis = new Redis(REDIS_URL);
    let left: string[] = [];
    let registry: string[] = [];
    try {
      do {
        left = [];
        for (const s of scratch) {
          const pg = await pgQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [s]);
          const mdb = await myQuery(undefined, 'SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [s]);
          if (pg.length || mdb.length) left.push(s);
        }
        registry = await redis.hkeys(`${env.QUEUE_PREFIX}:scratch-dbs`).catch(() => [] as string[]);
        if (left.length || registry.length) await sleep(500);
      } while ((left.length || registry.length) && Date.now() < deadline);
    } finally {
      redis.disconnect();
    }
    if (left.length) problems.push(`scratch databases left behind: ${left.join(', ')}`);
    if (registry.length) problems.push(`scratch databases still registered: ${registry.join(', ')}`);
    const temp = join(env.DATA_DIR, 'tmp');
    if (existsSync(temp) && entriesUnder(temp).length) problems.push(`temp directory not empty: ${entriesUnder(temp).join(', ')}`);

    console.log(
      `restore kill loop: ${LOOPS} kills in ${Math.round((Date.now() - t0) / 1000)} s (restore ${JSON.stringify(restoreMs)} ms); outcomes ${outcomes.join(' ')}; scratch seen ${scratch.length}; problems ${problems.length}:\n${problems.join('\n')}`,
    );
    expect(problems).toEqual([]);
  }, 600_000);
});
