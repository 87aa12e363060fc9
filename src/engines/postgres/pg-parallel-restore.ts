import { randomBytes } from 'node:crypto';
import { EngineError } from '../../common/errors.js';
import type { ProcessRunner } from '../../common/process-runner.js';
import type { ResolvedTarget } from '../../targets/targets.service.js';
import { RestoreStoppedError, runRestoreClient } from '../restore-client.js';
import { discardInput, withSpooledDump } from '../restore-spool.js';
import type { RestoreInput, RestoreRunOptions, ScratchLease } from '../restorer.interface.js';
import { pgQuoteIdent as ident } from '../table-names.js';
import { pgQueries, pgQuery } from './connection.js';
import type { PostgresEngine } from './postgres.engine.js';
import { PG_USER_SCHEMAS, SERVER_VERSION_SQL } from './postgres.engine.js';

/**
 * From this many `pg_restore` jobs on, a restore into a new database unpacks the archive to a
 * file first (what `--jobs` needs); below, one pg_restore reads it as it is unpacked. Measured on
 * 2 cores at 1 GB (one large table, two indexes): unpacking to the file took 1.5-1.9 s, and
 * `pg_restore -j2` from it took 9.4-9.8 s, a single pg_restore streaming from zstd 9.3 s: with two
 * jobs the file costs its unpacking time and buys nothing.
 */
const PARALLEL_FROM_JOBS = 3;

/**
 * A custom-format archive restored into a new database, into a scratch database `bm_rs_*`: with
 * `jobs` ≥ 3, `pg_restore -j N` (N parallel connections, which needs a seekable file and rules
 * out one transaction) from the archive unpacked to a 0600 temp file and verified first; with
 * fewer, one pg_restore fed by zstd as it unpacks. Only once pg_restore exited 0 and the whole
 * artifact passed its checks does the scratch database take the destination's name: the commit.
 * When the destination does not exist yet (`dest.exists` false) that is one rename, and until
 * then there is no database of that name; when the caller created it empty, the two swap names in
 * one transaction. A failure, a kill or a lost worker before the commit leaves the scratch
 * database to be dropped (here, or by the scratch janitor: it is recorded before it is created)
 * and the destination as it was; after it, the destination holds the whole backup.
 */
export async function restoreIntoNewDatabase(
  deps: { engine: PostgresEngine; runner: ProcessRunner; tempDir: string; jobs: number },
  target: ResolvedTarget,
  dest: { name: string; exists: boolean },
  input: RestoreInput,
  run: RestoreRunOptions,
  classify: (stderr: string, code: number | null) => EngineError,
): Promise<void> {
  const scratch = `bm_rs_${randomBytes(6).toString('hex')}`;
  const admin = (sql: string) => adminQuery(target, sql);
  let lease: ScratchLease | undefined;
  let pgRestore: string;
  try {
    lease = await run.scratch?.claim(target, scratch);
    // One connection asks the server's version (which pg_restore to run) and creates the scratch database.
    const version = await pgQueries(target, [SERVER_VERSION_SQL, `CREATE DATABASE ${ident(scratch)}`]);
    pgRestore = (await deps.engine.clientProgram('pg_restore', { ...target, database: dest.name }, version[0][0]?.v as string | undefined)).path;
  } catch (err) {
    discardInput(input);
    const dropped = await admin(`DROP DATABASE IF EXISTS ${ident(scratch)} WITH (FORCE)`).then(() => true, () => false);
    await lease?.release(dropped);
    throw err;
  }
  let renamed = false;
  try {
    const inScratch = (stderr: string, code: number | null) => classify(stderr.split(scratch).join(dest.name), code);
    const connection = { ...target, database: scratch };
    if (deps.jobs >= PARALLEL_FROM_JOBS) {
      await withSpooledDump(deps.tempDir, input, run.signal, (file) =>
        deps.engine.withConnectionEnv(connection, (env) =>
          runPgRestore(deps.runner, pgRestore, ['--no-password', '--exit-on-error', `--jobs=${deps.jobs}`, `--dbname=${scratch}`, '--', file], env, run, inScratch),
        ),
      );
    } else {
      // One pg_restore reads the archive as zstd unpacks it; the rename below is the commit,
      // and it waits for the whole archive's checks (`separate`).
      await deps.engine.withConnectionEnv(connection, (env) =>
        runRestoreClient(deps.runner, pgRestore, ['--no-password', '--exit-on-error', `--dbname=${scratch}`], env, input, [], run, inScratch, { separate: true }),
      );
    }
    if (lease && !(await lease.held())) {
      throw new EngineError(`the lease on the scratch database ${scratch} expired (this worker was stopped too long); nothing was renamed into ${dest.name}`, { retryable: false });
    }
    await run.beforeCommit?.();
    if (dest.exists) await swapIntoEmpty(target, dest.name, scratch, run);
    else {
      await admin(`ALTER DATABASE ${ident(scratch)} RENAME TO ${ident(dest.name)}`).catch((err: Error) => {
        if (/already exists/.test(err.message)) {
          throw new EngineError(`database ${dest.name} was created by someone else while the backup was being loaded; it was left as it is, and nothing of the backup was put there`, { retryable: false });
        }
        throw err;
      });
    }
    renamed = true;
  } finally {
    const dropped = renamed || (await admin(`DROP DATABASE IF EXISTS ${ident(scratch)} WITH (FORCE)`).then(() => true, () => false));
    await lease?.release(dropped).catch(() => undefined);
  }
}

/**
 * The destination was created empty by this restore and makes way for the loaded scratch
 * database by a rename, not a DROP (which would wait for a checkpoint of everything just loaded):
 * both renames in one transaction, so the name is never missing; the empty one is then dropped in
 * the background.
 */
async function swapIntoEmpty(target: ResolvedTarget, dest: string, scratch: string, run: RestoreRunOptions): Promise<void> {
  const admin = (sql: string) => adminQuery(target, sql);
  const used = await pgQuery<{ n: number }>(
    { ...target, database: dest },
    `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${PG_USER_SCHEMAS}`,
    [],
    { database: dest },
  );
  if (used[0].n > 0) throw new EngineError(`something was created in ${dest} while the backup was being loaded; it was left as it is, and nothing of the backup was put there`, { retryable: false });
  const emptied = `bm_rs_${randomBytes(6).toString('hex')}`;
  const emptiedLease = await run.scratch?.claim(target, emptied);
  try {
    await admin(`BEGIN; ALTER DATABASE ${ident(dest)} RENAME TO ${ident(emptied)}; ALTER DATABASE ${ident(scratch)} RENAME TO ${ident(dest)}; COMMIT`);
  } catch (err) {
    await emptiedLease?.release(true);
    throw err;
  }
  void admin(`DROP DATABASE IF EXISTS ${ident(emptied)} WITH (FORCE)`).then(
    () => emptiedLease?.release(true),
    () => emptiedLease?.release(false), // the scratch janitor drops it
  ).catch(() => undefined);
}

/** A statement about databases, run on the target's own database. */
function adminQuery(target: ResolvedTarget, sql: string): Promise<unknown[]> {
  return pgQuery(target, sql, [], { database: target.database });
}

/** Runs pg_restore to its end; SIGKILLs it on abort (shutdown, lost lock) or timeout. */
async function runPgRestore(
  runner: ProcessRunner,
  command: string,
  args: string[],
  env: Record<string, string>,
  run: RestoreRunOptions,
  classify: (stderr: string, code: number | null) => EngineError,
): Promise<void> {
  if (run.signal.aborted) throw new RestoreStoppedError(`restore aborted before start: ${String(run.signal.reason ?? 'shutdown')}`, true);
  const child = runner.spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let killedFor: EngineError | undefined;
  const kill = (why: EngineError) => {
    killedFor ??= why;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const onAbort = () => kill(new RestoreStoppedError(`pg_restore aborted: ${run.signal.reason instanceof Error ? run.signal.reason.message : String(run.signal.reason ?? 'shutdown')}`, true));
  run.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => kill(new EngineError(`pg_restore exceeded the restore timeout of ${run.timeoutMs} ms`, { retryable: false })), run.timeoutMs);
  try {
    const { code, stderr } = await runner.wait(child);
    if (killedFor) throw killedFor;
    if (code !== 0) throw classify(stderr, code);
  } finally {
    clearTimeout(timer);
    run.signal.removeEventListener('abort', onAbort);
  }
}
