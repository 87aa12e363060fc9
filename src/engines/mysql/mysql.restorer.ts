import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type mysql from 'mysql2/promise';
import { EngineError } from '../../common/errors.js';
import type { ProcessRunner } from '../../common/process-runner.js';
import type { ResolvedTarget } from '../../targets/targets.service.js';
import { runRestoreClient } from '../restore-client.js';
import { discardInput } from '../restore-spool.js';
import { DATABASE_NAME, type DatabaseRestorer, type RestoreInput, type RestoreRunOptions, type RestoreSpec, type ScratchLease } from '../restorer.interface.js';
import { baseTables, mysqlTableRows, q, withMysqlConnection, withMysqlDefaultsFile } from './connection.js';
import { classifyMysqlError } from './errors.js';
import { mysqlClientCommand } from './mysql.engine.js';
import { MysqlTableFilter } from './mysql-table-filter.js';
import { mysqlIdent, planMysqlSwap, type SchemaObject } from './swap-plan.js';

/**
 * MySQL/MariaDB restores. MySQL has no transactional DDL, so a dump is loaded into a scratch
 * database first (a data-only dump into empty copies of the destination's tables); only after
 * the whole stream was verified and loaded are its tables moved into the destination with ONE
 * `RENAME TABLE` statement (atomic), the replaced tables going to a holding database. Views,
 * routines, events and triggers are replaced around that statement, not atomically; a failure
 * there puts the old tables and objects back (see `swap` and docs/restore.md). A failure before
 * the swap drops the scratch database: the destination was never touched. The scratch database is
 * recorded (`RestoreRunOptions.scratch`) before it is created, so that one a killed worker left
 * behind is dropped by the janitor. The client runs with
 * `--binary-mode --sandbox`, so client commands in a dump (`\!`, `system`, `source`, ...) are refused.
 */
export class MysqlRestorer implements DatabaseRestorer {
  readonly kind = 'mysql' as const;

  constructor(
    private readonly runner: ProcessRunner,
    private readonly tempDir: string,
    /** The catalog's table prefix: a catalog found in a database is left out (`baseTables`). */
    private readonly tablePrefix: string,
  ) {}

  async databaseExists(target: ResolvedTarget, name: string): Promise<boolean> {
    return this.with(target, null, async (c) => (await q(c, 'SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [name])).length > 0);
  }

  async createDatabase(target: ResolvedTarget, name: string): Promise<void> {
    await this.with(target, null, (c) => q(c, `CREATE DATABASE ${ident(checkName(name))} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`));
  }

  async dropDatabase(target: ResolvedTarget, name: string): Promise<void> {
    if (name === target.database) throw new EngineError(`refusing to drop the target's own database ${name}`, { retryable: false });
    await this.with(target, null, (c) => q(c, `DROP DATABASE IF EXISTS ${ident(checkName(name))}`));
  }

  async tableRows(target: ResolvedTarget, database = target.database): Promise<Record<string, number>> {
    return mysqlTableRows(target, database, this.tablePrefix);
  }

  async restore(target: ResolvedTarget, asked: RestoreSpec, input: RestoreInput, run: RestoreRunOptions): Promise<void> {
    const dest = checkName(asked.database);
    // A restore of some tables out of the backup loads like a backup of just those tables.
    const only = asked.onlyTables?.length ? asked.onlyTables : undefined;
    const spec: RestoreSpec = only ? { ...asked, scope: 'selective', tables: only } : asked;
    const scratch = `bm_rs_${randomBytes(6).toString('hex')}`;
    let lease: ScratchLease | undefined;
    try {
      lease = await run.scratch?.claim(target, scratch);
      await this.createDatabase(target, scratch);
    } catch (err) {
      discardInput(input);
      await lease?.release(false);
      throw err;
    }
    try {
      // Data only: the dump has no CREATE TABLE, so the scratch tables copy the destination's.
      const dataTables = spec.includeSchema
        ? undefined
        : await this.with(target, null, (c) => prepareDataOnlyScratch(c, scratch, dest, spec.tables ?? null, this.tablePrefix)).catch((err: unknown) => {
            discardInput(input);
            throw err;
          });
      const scanner = dataTables ? new DumpTableScanner() : undefined;
      const filter = only ? new MysqlTableFilter(only, dest) : undefined;
      const command = mysqlClientCommand();
      const args = ['--batch', '--binary-mode', '--sandbox', '--default-character-set=utf8mb4'];
      if (dataTables) args.push('--init-command=SET SESSION foreign_key_checks = 0');
      // The client's input ends only once the whole dump is verified; the swap runs only after
      // the client exited 0 on it. A client that read a cut stream (its worker died) has loaded
      // only the scratch database, which the scratch janitor drops.
      await withMysqlDefaultsFile(target, this.tempDir, (cnf) =>
        runRestoreClient(
          this.runner,
          command,
          [`--defaults-extra-file=${cnf}`, ...args, '--', scratch],
          {},
          input,
          [...(filter ? [filter] : []), ...(scanner ? [scanner] : [])],
          run,
          (stderr, code) => {
            const missing = dataTables && /\b1146\b[^\n]*Table '[^'.]*\.([^']+)' doesn't exist/.exec(stderr);
            if (missing) {
              return new EngineError(`the data-only backup holds rows for table ${missing[1]}, which ${dest} does not have (a data-only backup restores only into a database with its schema); the destination was not changed`, { retryable: false });
            }
            const e = classifyMysqlError(stderr.split(scratch).join(dest), { ...target, database: dest }, code);
            return new EngineError(`${e.message} (the destination was not changed)`, { retryable: false });
          },
          { separate: true },
        ),
      );
      const missing = filter ? only!.filter((t) => !filter.tablesSeen.has(t)) : [];
      if (missing.length) {
        throw new EngineError(`the backup holds no table ${missing.map((t) => JSON.stringify(t)).join(', ')}; nothing was restored, the destination was not changed`, { retryable: false });
      }
      if (lease && !(await lease.held())) {
        throw new EngineError(`the lease on the scratch database ${scratch} expired (this worker was stopped too long); nothing was swapped in, the destination was not changed`, { retryable: false });
      }
      await run.beforeCommit?.();
      await this.swap(target, scratch, dest, spec, dataTables?.filter((t) => scanner!.tables.has(t)));
    } finally {
      const dropped = await this.dropDatabase(target, scratch).then(
        () => true,
        () => false,
      );
      await lease?.release(dropped).catch(() => undefined);
    }
  }

  /**
   * Moves the scratch database's tables into `dest` with ONE atomic RENAME TABLE, the replaced
   * tables going to a holding database. Triggers cannot be renamed across databases and views,
   * routines and events belong to the database, so their definitions are read first (from the
   * scratch database: the backup's; from `dest`: the ones replaced), triggers are dropped from
   * both sides, and after the RENAME the backup's objects are created in `dest`. If anything
   * fails, the new objects are dropped, the tables are renamed back and the old objects are
   * re-created; the holding database is dropped only once nothing in it is needed.
   */
  private async swap(target: ResolvedTarget, scratch: string, dest: string, spec: RestoreSpec, dataTables?: string[]): Promise<void> {
    await this.with(target, null, async (c) => {
      await q(c, 'SET SESSION foreign_key_checks = 0');
      if (!(await q(c, 'SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [scratch])).length) {
        throw new EngineError(`the scratch database ${scratch} is gone; nothing was swapped in, the destination was not changed`, { retryable: false });
      }
      const destExists = (await q(c, 'SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [dest])).length > 0;
      if (!destExists) await q(c, `CREATE DATABASE ${ident(dest)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      const trash = `bm_old_${randomBytes(6).toString('hex')}`;
      const incomingObjects = dataTables ? [] : await readObjects(c, scratch);
      const plan = planMysqlSwap({
        scratch,
        dest,
        trash,
        incoming: dataTables ?? (await baseTables(c, scratch, this.tablePrefix)),
        existing: await baseTables(c, dest, this.tablePrefix),
        incomingObjects,
        existingObjects: await readObjects(c, dest),
        dataOnly: !!dataTables,
        spec,
      });
      const { replaced, kept, oldObjects } = plan;

      // InnoDB moves a foreign key with the table it references: a table left in place that
      // references a replaced one would end up referencing the holding database.
      if (kept.length && replaced.length) {
        const refs = await q<{ t: string; r: string }>(
          c,
          `SELECT DISTINCT table_name AS t, referenced_table_name AS r FROM information_schema.referential_constraints
            WHERE constraint_schema = ? AND unique_constraint_schema = ? AND referenced_table_name IN (?) AND table_name IN (?)`,
          [dest, dest, replaced, kept],
        );
        if (refs.length) {
          const shown = refs.slice(0, 3).map((x) => `${x.t} → ${x.r}`).join(', ');
          throw new EngineError(`tables the backup does not hold reference tables it replaces by foreign key (${shown}); restore the referencing tables too, or into a new targetDatabase (the destination was not changed)`, { retryable: false });
        }
      }

      if (replaced.length) await q(c, `CREATE DATABASE ${ident(trash)}`);
      let renamed = false;
      const created: SchemaObject[] = [];
      let keepTrash = false;
      try {
        try {
          // Before the RENAME: triggers off both sides, views that the tables replace by name.
          for (const o of incomingObjects.filter((x) => x.kind === 'TRIGGER')) await dropObject(c, scratch, o);
          for (const o of oldObjects.filter((x) => x.kind === 'TRIGGER' || x.kind === 'VIEW')) await dropObject(c, dest, o);
          if (plan.rename.length) await q(c, `RENAME TABLE ${plan.rename.join(', ')}`);
          renamed = true;
          // After it: the backup's views, routines, events and triggers replace the old ones.
          for (const o of oldObjects.filter((x) => x.kind !== 'TRIGGER' && x.kind !== 'VIEW')) await dropObject(c, dest, o);
          await createObjects(c, dest, created, plan.newObjects);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          try {
            for (const o of [...created, ...oldObjects]) await dropObject(c, dest, o);
            if (renamed) {
              if (plan.renameBack.length) await q(c, `RENAME TABLE ${plan.renameBack.join(', ')}`);
              renamed = false;
            }
            await createObjects(c, dest, [], oldObjects);
          } catch (rollbackErr) {
            keepTrash = renamed;
            throw new EngineError(
              `the restore failed (${reason}) and so did putting the destination back (${(rollbackErr as Error).message})` +
                (keepTrash ? `; the replaced tables are kept in database ${trash}` : '; its tables are as they were, some views, routines, events or triggers may be missing'),
              { retryable: false },
            );
          }
          throw new EngineError(`${reason.replace(/\s*\(the destination was not changed\)$/, '')} (the destination was put back as it was)`, { retryable: false });
        }
      } finally {
        if (replaced.length && !keepTrash) await q(c, `DROP DATABASE IF EXISTS ${ident(trash)}`).catch(() => undefined);
      }
    });
  }

  private with<T>(target: ResolvedTarget, database: string | null, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
    return withMysqlConnection(target, database, fn);
  }
}

function checkName(name: string): string {
  if (!DATABASE_NAME.test(name)) throw new EngineError(`invalid database name ${JSON.stringify(name).slice(0, 80)}`, { retryable: false });
  return name;
}

const ident = mysqlIdent;

/**
 * The definitions of every view, routine, event and trigger of `db` (triggers per table in their
 * firing order). Read with `db` as the current database, so references to its own objects are
 * unqualified (a view's body included) and the definition can be run in another database.
 */
async function readObjects(c: mysql.Connection, db: string): Promise<SchemaObject[]> {
  await q(c, `USE ${ident(db)}`);
  const out: SchemaObject[] = [];
  const one = async (sql: string, column: string, name: string) => {
    const [row] = await q<Record<string, string | null>>(c, `${sql} ${ident(name)}`);
    const text = row?.[column];
    if (!text) throw new EngineError(`cannot read the definition of ${name} in ${db} (${sql.toLowerCase()} gave nothing: missing privileges?)`, { retryable: false });
    return { sql: text, sqlMode: row.sql_mode ?? undefined, timeZone: row.time_zone ?? undefined };
  };
  for (const r of await q<{ n: string; t: 'PROCEDURE' | 'FUNCTION' }>(c, 'SELECT routine_name AS n, routine_type AS t FROM information_schema.routines WHERE routine_schema = ? ORDER BY 2, 1', [db])) {
    out.push({ kind: r.t, name: r.n, ...(await one(`SHOW CREATE ${r.t}`, r.t === 'FUNCTION' ? 'Create Function' : 'Create Procedure', r.n)) });
  }
  for (const r of await q<{ n: string }>(c, 'SELECT table_name AS n FROM information_schema.views WHERE table_schema = ? ORDER BY 1', [db])) {
    out.push({ kind: 'VIEW', name: r.n, ...(await one('SHOW CREATE VIEW', 'Create View', r.n)) });
  }
  for (const r of await q<{ n: string; t: string }>(
    c,
    `SELECT trigger_name AS n, event_object_table AS t FROM information_schema.triggers WHERE trigger_schema = ?
      ORDER BY event_object_table, action_timing, event_manipulation, action_order`,
    [db],
  )) {
    out.push({ kind: 'TRIGGER', name: r.n, table: r.t, ...(await one('SHOW CREATE TRIGGER', 'SQL Original Statement', r.n)) });
  }
  for (const r of await q<{ n: string }>(c, 'SELECT event_name AS n FROM information_schema.events WHERE event_schema = ? ORDER BY 1', [db])) {
    out.push({ kind: 'EVENT', name: r.n, ...(await one('SHOW CREATE EVENT', 'Create Event', r.n)) });
  }
  return out;
}

async function dropObject(c: mysql.Connection, db: string, o: SchemaObject): Promise<void> {
  await q(c, `DROP ${o.kind} IF EXISTS ${ident(db)}.${ident(o.name)}`);
}

/**
 * Creates `objects` in `db`: routines, then views (a view may use another, so those failing
 * are retried while others succeed), then triggers in firing order, then events. Each runs
 * under the sql_mode (and an event under the time zone) it was defined with.
 */
async function createObjects(c: mysql.Connection, db: string, created: SchemaObject[], objects: SchemaObject[]): Promise<void> {
  await q(c, `USE ${ident(db)}`);
  const [{ mode, tz }] = await q<{ mode: string; tz: string }>(c, 'SELECT @@SESSION.sql_mode AS mode, @@SESSION.time_zone AS tz');
  const create = async (o: SchemaObject) => {
    await q(c, 'SET SESSION sql_mode = ?', [o.sqlMode ?? mode]);
    await q(c, 'SET SESSION time_zone = ?', [o.timeZone ?? tz]);
    try {
      await c.query(o.sql);
      created.push(o);
    } catch (err) {
      throw new EngineError(`could not create ${o.kind.toLowerCase()} ${o.name} in ${db}: ${(err as Error).message}`, { retryable: false });
    }
  };
  try {
    for (const o of objects.filter((x) => x.kind === 'FUNCTION' || x.kind === 'PROCEDURE')) await create(o);
    let views = objects.filter((x) => x.kind === 'VIEW');
    while (views.length) {
      const failed: { o: SchemaObject; err: Error }[] = [];
      for (const o of views) await create(o).catch((err: Error) => failed.push({ o, err }));
      if (failed.length === views.length) throw failed[0].err;
      views = failed.map((f) => f.o);
    }
    for (const o of objects.filter((x) => x.kind === 'TRIGGER')) await create(o);
    for (const o of objects.filter((x) => x.kind === 'EVENT')) await create(o);
  } finally {
    await q(c, 'SET SESSION sql_mode = ?', [mode]).catch(() => undefined);
    await q(c, 'SET SESSION time_zone = ?', [tz]).catch(() => undefined);
  }
}

/**
 * Creates in `scratch` an empty copy of each destination table a data-only backup is loaded
 * into (`tables`, or all of the destination's), from `SHOW CREATE TABLE` so that foreign keys are
 * kept (`CREATE TABLE ... LIKE` drops them); a reference to a table outside the set is qualified
 * with the destination, so it still points there after the swap. Fails, before anything changes,
 * if the destination lacks one of `tables`. Returns the tables created.
 */
async function prepareDataOnlyScratch(c: mysql.Connection, scratch: string, dest: string, tables: string[] | null, prefix: string): Promise<string[]> {
  const exists = (await q(c, 'SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [dest])).length > 0;
  const existing = exists ? await baseTables(c, dest, prefix) : [];
  const wanted = tables ?? existing;
  const missing = wanted.filter((t) => !existing.includes(t));
  if (missing.length || !wanted.length) {
    const what = missing.length ? `tables ${missing.slice(0, 5).join(', ')}, which ${dest} does not have` : `no tables, and ${dest} has none`;
    throw new EngineError(`a data-only backup restores only into a database that has its schema; it holds ${what} (the destination was not changed)`, { retryable: false });
  }
  await q(c, `USE ${ident(dest)}`);
  const ddl: string[] = [];
  for (const t of wanted) {
    const [row] = await q<{ 'Create Table': string }>(c, `SHOW CREATE TABLE ${ident(t)}`);
    ddl.push(
      row['Create Table'].replace(/REFERENCES `((?:[^`]|``)+)` \(/g, (m, name: string) => (wanted.includes(name.replace(/``/g, '`')) ? m : `REFERENCES ${ident(dest)}.\`${name}\` (`)),
    );
  }
  await q(c, `USE ${ident(scratch)}`);
  await q(c, 'SET SESSION foreign_key_checks = 0');
  for (const sql of ddl) await c.query(sql);
  return wanted;
}

/**
 * Passes a data-only dump through and notes the tables it holds data for (`LOCK TABLES`, which
 * the dump client writes even for an empty table, and `INSERT INTO`), so that only those are
 * swapped in: a destination table the backup does not hold keeps its rows.
 */
export class DumpTableScanner extends Transform {
  readonly tables = new Set<string>();
  private line = Buffer.alloc(0);
  private static readonly HEAD = 512;
  private static readonly LINE = /^(?:LOCK TABLES|INSERT(?: IGNORE)? INTO|REPLACE INTO) `((?:[^`]|``)+)`/;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(10, from);
      const part = chunk.subarray(from, nl < 0 ? chunk.length : nl);
      if (this.line.length < DumpTableScanner.HEAD) this.line = Buffer.concat([this.line, part.subarray(0, DumpTableScanner.HEAD - this.line.length)]);
      if (nl < 0) break;
      this.endLine();
      from = nl + 1;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.endLine();
    cb();
  }

  private endLine(): void {
    if (this.line.length) {
      const m = DumpTableScanner.LINE.exec(this.line.toString('utf8'));
      if (m) this.tables.add(m[1].replace(/``/g, '`'));
    }
    this.line = Buffer.alloc(0);
  }
}
