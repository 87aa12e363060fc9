import { Inject, Injectable } from '@nestjs/common';
import { EngineError } from '../../common/errors.js';
import { pgClientFor, PgClientMissingError, pgMajorOf, type PgClient } from '../../common/executables.js';
import { ProcessRunner } from '../../common/process-runner.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../../config/options.js';
import type { ResolvedTarget } from '../../targets/targets.service.js';
import type { Readable } from 'node:stream';
import { rowsAfterDump, scopeTableRows, type DatabaseEngine, type DatabaseStats, type DumpRows, type DumpRun, type DumpSink, type DumpSpec, type TableInfo } from '../engine.interface.js';
import { runDumpClient } from '../run-client.js';
import { catalogMigrationsTable, catalogTableNames, tablePrefixOf } from '../../catalog/entities.js';
import { canonicalTableKey, formatPgTable, pgDumpTablePattern, type PgTableName } from '../table-names.js';
import { pgClient, pgQuery, withPgConnectionEnv } from './connection.js';
import { PgCopyRowCounter } from './pg-copy-rows.js';
import { classifyPgError } from './errors.js';

/** PostgreSQL through `pg_dump` (dumps) and `pg` (catalog queries). */
@Injectable()
export class PostgresEngine implements DatabaseEngine {
  readonly kind = 'postgres' as const;
  private readonly versions = new Map<string, Promise<string>>();

  constructor(
    private readonly runner: ProcessRunner,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
  ) {}

  /**
   * The version line of the `pg_dump` that dumps `target` (see `clientProgram`), or without a
   * target of the one on PATH.
   */
  async clientVersion(target?: ResolvedTarget): Promise<string> {
    const program = target ? (await this.clientProgram('pg_dump', target)).path : 'pg_dump';
    let v = this.versions.get(program);
    if (!v) {
      v = this.runner.output(program, ['--version']);
      v.catch(() => this.versions.delete(program));
      this.versions.set(program, v);
    }
    return v;
  }

  /**
   * The client program (`pg_dump`, `pg_restore`, `psql`) for the target's server, chosen at each
   * call (a server may be upgraded while this process runs): where several majors are installed
   * side by side (Debian's /usr/lib/postgresql/<major>/bin), the lowest not older than the server.
   */
  async clientProgram(tool: 'pg_dump' | 'pg_restore' | 'psql', target: ResolvedTarget, serverVersionNum?: string): Promise<PgClient> {
    const v = serverVersionNum ?? (await this.query<{ v: string }>(target, SERVER_VERSION_SQL))[0]?.v;
    const major = pgMajorOf(Number(v));
    if (!Number.isFinite(major)) throw new EngineError(`PostgreSQL ${target.host}:${target.port}: unreadable server version ${JSON.stringify(v)}`, { retryable: false });
    try {
      return await pgClientFor(tool, major, { root: this.options.dump.pgClientRoot });
    } catch (err) {
      if (err instanceof PgClientMissingError) throw new EngineError(`PostgreSQL ${target.host}:${target.port}: ${err.message}`, { retryable: false });
      throw err;
    }
  }

  async stats(target: ResolvedTarget): Promise<DatabaseStats> {
    const rows = await this.query<{ size: string; tables: string; rows: string }>(
      target,
      `SELECT pg_database_size(current_database())::text AS size,
              count(*)::text AS tables,
              coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint::text AS rows
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%'`,
    );
    return { sizeBytes: Number(rows[0].size), tableCount: Number(rows[0].tables), rowEstimate: Number(rows[0].rows) };
  }

  async listTables(target: ResolvedTarget): Promise<TableInfo[]> {
    return (await this.catalogTables(target)).map((t) => ({ name: t.name, rowEstimate: t.rowEstimate, sizeBytes: t.sizeBytes }));
  }

  /**
   * The backup-manager catalog's own tables in `database` (default: the target's), when a catalog
   * with this installation's table prefix lives there (its history table beside them), else none.
   * Dumps, restores, table lists and row counts leave them out: they are never application data,
   * and restoring the database in place must not rewrite the catalog that records the restore.
   */
  async catalogTablesIn(target: ResolvedTarget, database = target.database): Promise<PgTableName[]> {
    return pgQuery<PgTableName>(target, CATALOG_TABLES_SQL, this.catalogTablesParams(), { database });
  }

  private catalogTablesParams(): unknown[] {
    const prefix = tablePrefixOf(this.options.catalog);
    return [catalogTableNames(prefix), catalogMigrationsTable(prefix)];
  }

  /** Sequences owned by columns of `tables` (pg_dump dumps them apart from their table). */
  private async ownedSequences(target: ResolvedTarget, tables: PgTableName[]): Promise<PgTableName[]> {
    if (!tables.length) return [];
    return pgQuery<PgTableName>(target, OWNED_SEQUENCES_SQL, ownedSequencesParams(tables));
  }

  /** User tables with their exact schema and table names beside the canonical API name (the catalog's left out). */
  private async catalogTables(target: ResolvedTarget): Promise<Array<TableInfo & { schema: string; table: string }>> {
    const skip = pgNameSet(await this.catalogTablesIn(target));
    const rows = await this.query<{ schema: string; name: string; rows: string; size: string }>(
      target,
      `SELECT n.nspname AS schema, c.relname AS name,
              greatest(c.reltuples, 0)::bigint::text AS rows,
              pg_total_relation_size(c.oid)::text AS size
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%'
        ORDER BY 1, 2`,
    );
    return rows.filter((r) => !skip.has(formatPgTable({ schema: r.schema, table: r.name }))).map((r) => ({
      name: formatPgTable({ schema: r.schema, table: r.name }),
      rowEstimate: Number(r.rows),
      sizeBytes: Number(r.size),
      schema: r.schema,
      table: r.name,
    }));
  }

  /**
   * Dumps with exact row counts: a plain dump with data is counted as it streams (the dump's own
   * snapshot); otherwise the counts run beside the dump, in the snapshot pg_dump itself reads
   * (`--snapshot`), instead of a second pass after it. Where no snapshot can be exported, they
   * are counted after the dump.
   */
  async dump(target: ResolvedTarget, spec: DumpSpec, run: DumpRun, sink: DumpSink): Promise<DumpRows> {
    const counter = spec.format === 'plain' && spec.includeData ? new PgCopyRowCounter() : undefined;
    const snapshot = !counter && spec.includeData ? await this.exportSnapshot(target, run.lockWaitTimeoutMs).catch(() => undefined) : undefined;
    const counted = snapshot?.countRows().catch((err: Error) => err);
    try {
      await this.runDump(target, { ...spec, snapshot: snapshot?.id }, run, (stdout, signal) => sink(stdout, signal, counter ? [counter] : []), snapshot?.prepared);
    } catch (err) {
      await snapshot?.close(); // ends a count still running (it would fail like the dump)
      throw err;
    }
    if (counter) return { tableRows: counter.rows, source: 'dump' };
    if (snapshot) {
      const rows = await counted!;
      await snapshot.close();
      return { tableRows: rows instanceof Error ? rows : scopeTableRows(rows, spec), source: 'dump-snapshot' };
    }
    return rowsAfterDump(spec, () => this.countRows(target));
  }

  /** Exact row count of every user table of `database` (default: the target's), in one snapshot. */
  async countRows(target: ResolvedTarget, database = target.database): Promise<Record<string, number>> {
    const skip = pgNameSet(await this.catalogTablesIn(target, database));
    return withoutTables(pgTableRows(await pgQuery<PgTableRowsRow>(target, PG_TABLE_ROWS_SQL, [], { database, snapshot: true })), skip);
  }

  /** `prepared`: what the snapshot's connection already read (the catalog's tables, the server version). */
  private async runDump(target: ResolvedTarget, spec: DumpSpec, run: DumpRun, sink: (stdout: Readable, signal: AbortSignal) => Promise<void>, prepared?: DumpPreparation): Promise<void> {
    let tables: PgTableName[] = [];
    let exclude: PgTableName[] = [];
    if (spec.scope !== 'full') {
      if (!spec.tables?.length) throw new EngineError(`a ${spec.scope} backup names no tables`, { retryable: false });
      // Map API names to exact (schema, table) pairs, so each pattern matches that one table.
      const byName = new Map((await this.catalogTables(target)).map((t) => [t.name, t]));
      const wanted = spec.tables.map((t) => ({ asked: t, name: canonicalTableKey('postgres', t) }));
      const missing = wanted.filter((t) => !byName.has(t.name));
      if (missing.length) throw new EngineError(`tables no longer in the database: ${missing.map((t) => JSON.stringify(t.asked)).join(', ')}`, { retryable: false });
      tables = wanted.map((t) => byName.get(t.name)!);
    } else if (prepared) {
      exclude = prepared.exclude;
    } else {
      // The catalog's tables (and their sequences) when it lives in this database: never application data.
      const catalog = await this.catalogTablesIn(target);
      exclude = [...catalog, ...(await this.ownedSequences(target, catalog))];
    }
    const args = pgDumpArgs(spec, run.lockWaitTimeoutMs, tables, exclude);
    const { path } = await this.clientProgram('pg_dump', target, prepared?.serverVersionNum);
    return this.withConnectionEnv(target, (env) =>
      runDumpClient(this.runner, path, args, env, run, sink, (stderr, code) => classifyPgError(stderr, target, code)),
    );
  }

  /** The libpq environment for a child: connection parameters plus a 0600 PGPASSFILE. */
  withConnectionEnv<T>(target: ResolvedTarget, fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
    return withPgConnectionEnv(target, this.options.tempDir, fn);
  }

  /**
   * Opens a read-only REPEATABLE READ transaction and exports its snapshot, so `pg_dump
   * --snapshot` and exact row counts see the same data while the counts run beside the dump. The
   * same connection reads, in that snapshot, what the dump needs first (the server version, the
   * catalog's tables to leave out), so pg_dump starts after one connection, not four. The counts
   * run without parallel workers: they share the machine with the dump and are not waited for
   * until it ends.
   */
  async exportSnapshot(target: ResolvedTarget, lockWaitTimeoutMs: number): Promise<PgSnapshot> {
    const client = pgClient(target);
    try {
      await client.connect();
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockWaitTimeoutMs))}`);
      const { rows } = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
      const [version] = (await client.query<{ v: string }>(SERVER_VERSION_SQL)).rows;
      const catalog = (await client.query<PgTableName>(CATALOG_TABLES_SQL, this.catalogTablesParams())).rows;
      const sequences = catalog.length ? (await client.query<PgTableName>(OWNED_SEQUENCES_SQL, ownedSequencesParams(catalog))).rows : [];
      const skip = pgNameSet(catalog);
      return {
        id: rows[0].id,
        prepared: { serverVersionNum: version.v, exclude: [...catalog, ...sequences] },
        countRows: async () => {
          await client.query('SET LOCAL max_parallel_workers_per_gather = 0');
          return withoutTables(pgTableRows((await client.query<PgTableRowsRow>(PG_TABLE_ROWS_SQL)).rows), skip);
        },
        close: async () => {
          await client.query('ROLLBACK').catch(() => undefined);
          await client.end().catch(() => undefined);
        },
      };
    } catch (err) {
      await client.end().catch(() => undefined);
      throw classifyPgError(err as Error & { code?: string }, target);
    }
  }

  query<T>(target: ResolvedTarget, sql: string, params: unknown[] = []): Promise<T[]> {
    return pgQuery<T>(target, sql, params);
  }
}

/** What a dump needs to know before pg_dump starts, read on the snapshot's connection. */
interface DumpPreparation {
  /** `server_version_num`, for `clientProgram`. */
  serverVersionNum: string;
  /** The catalog's tables and their sequences: left out of a full dump. */
  exclude: PgTableName[];
}

export interface PgSnapshot {
  id: string;
  prepared: DumpPreparation;
  /** Exact rows of every user table, in the snapshot. */
  countRows(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** The server's version as a number (e.g. 150020), as column `v`. */
export const SERVER_VERSION_SQL = `SELECT current_setting('server_version_num') AS v`;

/** The catalog's tables (`$1` names, `$2` its migrations table), in the schema that holds both. */
const CATALOG_TABLES_SQL = `SELECT n.nspname AS schema, c.relname AS "table"
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND c.relname = ANY($1)
    AND c.relnamespace IN (SELECT h.relnamespace FROM pg_class h WHERE h.relname = $2 AND h.relkind = 'r')
  ORDER BY 1, 2`;

const OWNED_SEQUENCES_SQL = `SELECT sn.nspname AS schema, s.relname AS "table"
   FROM pg_class s JOIN pg_namespace sn ON sn.oid = s.relnamespace
   JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')
   JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
  WHERE s.relkind = 'S' AND (tn.nspname, t.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;

const ownedSequencesParams = (tables: PgTableName[]) => [tables.map((t) => t.schema), tables.map((t) => t.table)];

export const PG_USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`;

/** Exact row count of every user table; run it in one transaction so all counts share a snapshot. */
export const PG_TABLE_ROWS_SQL = `SELECT n.nspname AS schema, c.relname AS name,
        (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text AS rows
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND ${PG_USER_SCHEMAS}
  ORDER BY 1, 2`;

export interface PgTableRowsRow {
  schema: string;
  name: string;
  rows: string;
}

/** Canonical table name (see `table-names.ts`) → rows. */
export function pgTableRows(rows: PgTableRowsRow[]): Record<string, number> {
  return Object.fromEntries(rows.map((r) => [formatPgTable({ schema: r.schema, table: r.name }), Number(r.rows)]));
}

/** Canonical names (`table-names.ts`) of `tables`. */
export function pgNameSet(tables: PgTableName[]): Set<string> {
  return new Set(tables.map(formatPgTable));
}

/** Row counts without the tables named in `skip`. */
export function withoutTables(rows: Record<string, number>, skip: Set<string>): Record<string, number> {
  return skip.size ? Object.fromEntries(Object.entries(rows).filter(([t]) => !skip.has(t))) : rows;
}

/**
 * pg_dump's argv for a dump (connection details go through the environment, never argv): format,
 * schema/data switches, the shared snapshot, and one exact `--table` pattern per table of a
 * partial or selective dump, with `--strict-names` so a pattern that matches nothing fails the
 * dump instead of silently making it smaller; `exclude` (a full dump) leaves those tables out.
 */
export function pgDumpArgs(spec: DumpSpec, lockWaitTimeoutMs: number, tables: PgTableName[] = [], exclude: PgTableName[] = []): string[] {
  const args = ['--no-password', `--lock-wait-timeout=${lockWaitTimeoutMs}`, `--format=${spec.format === 'custom' ? 'custom' : 'plain'}`];
  if (spec.format === 'custom') args.push('--compress=0');
  if (!spec.includeSchema) args.push('--data-only');
  if (!spec.includeData) args.push('--schema-only');
  if (spec.snapshot) {
    if (!/^[0-9A-F-]+$/i.test(spec.snapshot)) throw new EngineError('invalid snapshot id', { retryable: false });
    args.push(`--snapshot=${spec.snapshot}`);
  }
  if (spec.scope !== 'full') {
    args.push('--strict-names');
    for (const t of tables) args.push(`--table=${pgDumpTablePattern(t)}`);
  } else {
    for (const t of exclude) args.push(`--exclude-table=${pgDumpTablePattern(t)}`);
  }
  return args;
}
