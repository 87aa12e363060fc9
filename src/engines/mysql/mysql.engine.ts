import { Inject, Injectable } from '@nestjs/common';
import type mysql from 'mysql2/promise';
import { catalogMigrationsTable, catalogTableNames, tablePrefixOf } from '../../catalog/entities.js';
import { EngineError } from '../../common/errors.js';
import { findExecutable } from '../../common/executables.js';
import { ProcessRunner } from '../../common/process-runner.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../../config/options.js';
import type { ResolvedTarget } from '../../targets/targets.service.js';
import { rowsAfterDump, scopeTableRows, type DatabaseEngine, type DatabaseStats, type DumpRows, type DumpRun, type DumpSink, type DumpSpec, type TableInfo } from '../engine.interface.js';
import { runDumpClient } from '../run-client.js';
import { mysqlConnect, mysqlQuery, mysqlTableRows, withMysqlDefaultsFile } from './connection.js';
import { classifyMysqlError } from './errors.js';

/** The dump client: `mariadb-dump` where installed, else `mysqldump`. */
export const mysqlDumpCommand = (): string => findExecutable(['mariadb-dump', 'mysqldump']) ?? 'mysqldump';
/** The command-line client that loads a dump: `mariadb` where installed, else `mysql`. */
export const mysqlClientCommand = (): string => findExecutable(['mariadb', 'mysql']) ?? 'mysql';

/** MySQL and MariaDB through `mariadb-dump`/`mysqldump` (dumps) and `mysql2` (catalog queries). */
@Injectable()
export class MysqlEngine implements DatabaseEngine {
  readonly kind = 'mysql' as const;
  private version?: Promise<string>;

  constructor(
    private readonly runner: ProcessRunner,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
  ) {}

  clientVersion(): Promise<string> {
    if (!this.version) {
      this.version = this.runner.output(mysqlDumpCommand(), ['--version']);
      this.version.catch(() => (this.version = undefined));
    }
    return this.version;
  }

  async stats(target: ResolvedTarget): Promise<DatabaseStats> {
    const [row] = await mysqlQuery<{ size: string | null; tables: string; rows_: string | null }>(
      target,
      `SELECT COALESCE(SUM(data_length + index_length), 0) AS size, COUNT(*) AS tables, COALESCE(SUM(table_rows), 0) AS rows_
         FROM information_schema.tables
        WHERE table_schema = ? AND table_type IN ('BASE TABLE', 'SYSTEM VERSIONED')`,
      [target.database],
    );
    return { sizeBytes: Number(row?.size ?? 0), tableCount: Number(row?.tables ?? 0), rowEstimate: Number(row?.rows_ ?? 0) };
  }

  async listTables(target: ResolvedTarget): Promise<TableInfo[]> {
    const rows = await mysqlQuery<{ name: string; rows_: string | null; size: string | null }>(
      target,
      `SELECT table_name AS name, COALESCE(table_rows, 0) AS rows_, COALESCE(data_length + index_length, 0) AS size
         FROM information_schema.tables
        WHERE table_schema = ? AND table_type IN ('BASE TABLE', 'SYSTEM VERSIONED')
        ORDER BY table_name`,
      [target.database],
    );
    const skip = new Set(await this.catalogTablesIn(target));
    return rows.filter((r) => !skip.has(r.name)).map((r) => ({ name: r.name, rowEstimate: Number(r.rows_ ?? 0), sizeBytes: Number(r.size ?? 0) }));
  }

  /**
   * The backup-manager catalog's own tables in the target's database, when a catalog with this
   * installation's table prefix lives there (its history table among them), else none. Dumps and
   * table lists leave them out (restores and row counts too: `MysqlRestorer`), so restoring the
   * database in place never rewrites the catalog that records the restore.
   */
  async catalogTablesIn(target: ResolvedTarget): Promise<string[]> {
    const prefix = tablePrefixOf(this.options.catalog);
    const rows = await mysqlQuery<{ name: string }>(
      target,
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_name IN (?)`,
      [target.database, catalogTableNames(prefix)],
    );
    const names = rows.map((r) => r.name);
    return names.includes(catalogMigrationsTable(prefix)) ? names.sort() : [];
  }

  /**
   * Dumps, and counts the rows on the database beside the dump: in a consistent snapshot of its
   * own taken as the dump starts (mysqldump exports no snapshot to share), so the count's
   * server work overlaps the dump instead of following it.
   */
  async dump(target: ResolvedTarget, spec: DumpSpec, run: DumpRun, sink: DumpSink): Promise<DumpRows> {
    if (spec.format === 'custom') throw new EngineError('MySQL targets only produce plain SQL dumps (format "plain")', { retryable: false });
    const command = mysqlDumpCommand();
    const version = await this.clientVersion().catch(() => '');
    // NOTE: mariadb-dump/mysqldump have no lock wait option and refuse `init-command` in an
    // option file, so a table under LOCK TABLES ... WRITE or behind a pending ALTER would make
    // the dump wait for the server's lock_wait_timeout (a day by default). A watchdog does it.
    const lockTimeout = new AbortController();
    // The catalog's tables to leave out are looked up while the lock watchdog connects.
    const ignoring = spec.scope === 'full' ? this.catalogTablesIn(target) : Promise.resolve([]);
    ignoring.catch(() => undefined);
    const stopWatch = await watchDumpLockWaits(target, run.lockWaitTimeoutMs, lockTimeout);
    const ignore = await ignoring.catch(async (err: unknown) => {
      await stopWatch();
      throw err;
    });
    // Schema-only backups hold no rows: no counts to take (the after-dump path gives zeros).
    const stopCounts = new AbortController();
    const counted = spec.includeData
      ? mysqlTableRows(target, target.database, tablePrefixOf(this.options.catalog), { lockWaitSeconds: run.lockWaitTimeoutMs / 1000, signal: stopCounts.signal }).catch(
          (err: Error) => err,
        )
      : undefined;
    try {
      await withMysqlDefaultsFile(target, this.options.tempDir, (cnf) =>
        runDumpClient(
          this.runner,
          command,
          mysqlDumpArgs(cnf, target.database, spec, version, ignore),
          {},
          { ...run, signal: AbortSignal.any([run.signal, lockTimeout.signal]) },
          (stdout, signal) => sink(stdout, signal, []),
          (stderr, code) => classifyMysqlError(stderr, target, code),
        ),
      );
    } catch (err) {
      stopCounts.abort();
      await counted;
      throw err;
    } finally {
      await stopWatch();
    }
    if (!counted) return rowsAfterDump(spec, () => mysqlTableRows(target, target.database, tablePrefixOf(this.options.catalog)));
    const rows = await counted;
    return { tableRows: rows instanceof Error ? rows : scopeTableRows(rows, spec), source: 'database-at-dump-start' };
  }
}

/** What the dump client's own statements look like in the process list. */
const DUMP_STATEMENT = /SQL_NO_CACHE|^\s*SHOW\s|^\s*LOCK\s+TABLES|^\s*SELECT\s+(COLUMN_NAME|engine|LOGFILE_GROUP_NAME|table_name)/i;

/**
 * Watches, on a connection of its own, for the dump's session waiting on a table lock (metadata
 * or table level) for `timeoutMs` or more; then kills that session and aborts the dump with a
 * non-retryable "lock wait timeout". The dump's session is told from others by being new (not in
 * the process list when the watch began), of the same user, on the target database, and running
 * a dump client's statement. Returns a function that stops the watch.
 */
export async function watchDumpLockWaits(target: ResolvedTarget, timeoutMs: number, abort: AbortController): Promise<() => Promise<void>> {
  let conn: mysql.Connection;
  try {
    conn = await mysqlConnect(target, undefined);
  } catch {
    return async () => undefined; // the dump itself reports an unreachable server
  }
  conn.on('error', () => undefined);
  const list = `SELECT ID AS id, DB AS db, STATE AS state, TIME_MS AS ms, INFO AS info FROM information_schema.PROCESSLIST
                 WHERE USER = SUBSTRING_INDEX(USER(), '@', 1) AND ID <> CONNECTION_ID()`;
  let known: Set<number>;
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(list);
    known = new Set(rows.map((r) => Number(r.id)));
  } catch {
    await conn.end().catch(() => undefined);
    return async () => undefined;
  }
  let busy = false;
  let stopped = false;
  const check = async () => {
    if (busy || stopped || abort.signal.aborted) return;
    busy = true;
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>(`${list} AND STATE LIKE 'Waiting for%lock%' AND TIME_MS >= ?`, [timeoutMs]);
      const waiting = rows.filter((r) => !known.has(Number(r.id)) && r.db === target.database && DUMP_STATEMENT.test(String(r.info ?? '')));
      if (!waiting.length || stopped) return;
      const w = waiting[0];
      abort.abort(
        new EngineError(
          `MySQL ${target.host}:${target.port}/${target.database}: lock wait timeout: the dump waited ${Math.round(Number(w.ms))} ms (${String(w.state).toLowerCase()}) for a table another session holds; DUMP_LOCK_WAIT_TIMEOUT_MS is ${timeoutMs}`,
          { retryable: false },
        ),
      );
      for (const r of waiting) await conn.query(`KILL ${Number(r.id)}`).catch(() => undefined);
    } catch {
      // the watch is best effort: the dump's own outcome still counts
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void check(), Math.min(1000, Math.max(100, Math.floor(timeoutMs / 4))));
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    while (busy) await new Promise((r) => setTimeout(r, 20));
    await conn.end().catch(() => undefined);
  };
}

/**
 * The dump client's argv. `--defaults-extra-file` comes first (the client ignores it elsewhere);
 * the database and table names come after `--`, so no name can be read as an option.
 */
export function mysqlDumpArgs(defaultsFile: string, database: string, spec: DumpSpec, clientVersion: string, ignoreTables: string[] = []): string[] {
  const isMariaDbClient = /mariadb/i.test(clientVersion);
  const args = [
    `--defaults-extra-file=${defaultsFile}`,
    '--single-transaction',
    '--quick',
    '--hex-blob',
    '--default-character-set=utf8mb4',
    '--no-tablespaces',
    '--skip-dump-date',
  ];
  // Oracle's mysqldump writes SET @@GLOBAL.GTID_PURGED on GTID servers; a restore then fails.
  if (!isMariaDbClient && clientVersion) args.push('--set-gtid-purged=OFF');
  const whole = spec.scope === 'full';
  if (spec.includeSchema) {
    // Routines and events belong to the database, not to a table: only full backups carry them.
    args.push('--triggers', whole ? '--routines' : '--skip-routines', whole ? '--events' : '--skip-events');
  } else {
    // Data only: no CREATE TABLE, and no triggers/routines/events to collide with the existing schema.
    args.push('--no-create-info', '--skip-triggers', '--skip-routines', '--skip-events');
  }
  if (!spec.includeData) args.push('--no-data');
  // The catalog's tables when it lives in this database: never part of the application's data.
  for (const t of ignoreTables) args.push(`--ignore-table=${database}.${t}`);
  args.push('--', database);
  if (!whole) args.push(...(spec.tables ?? []));
  return args;
}
