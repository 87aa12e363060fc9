import type { Readable, Transform } from 'node:stream';
import type { EngineKind } from '../config/options.js';
import type { ResolvedTarget } from '../targets/targets.service.js';

export type { BackupScopeKind, DumpFormat } from '../common/vocabulary.js';
import type { BackupScopeKind, DumpFormat } from '../common/vocabulary.js';

/** What to dump. `tables` are canonical names, already checked against the target's real table list. */
export interface DumpSpec {
  scope: BackupScopeKind;
  tables?: string[];
  includeSchema: boolean;
  includeData: boolean;
  format: DumpFormat;
  /** PostgreSQL: an exported snapshot for `pg_dump --snapshot` (shared with the row counts); set by the engine. */
  snapshot?: string;
}

/** Exact rows per table of a backup, for restore drills, and how they were counted. */
export interface DumpRows {
  /** Canonical table name → rows, of the tables the backup holds; or why they could not be counted. */
  tableRows: Record<string, number> | Error;
  /**
   * `dump`: counted in the dump stream; `dump-snapshot`: beside the dump, in its snapshot;
   * `database-after-dump`: on the database right after the dump (writes in between show up as
   * differences in a drill); `database-at-dump-start`: on the database beside the dump, in a
   * snapshot of its own taken as the dump starts (writes committed in the moment between the two
   * snapshots show up as differences in a drill); `schema-only`: the backup holds no rows.
   */
  source: 'dump' | 'dump-snapshot' | 'database-after-dump' | 'database-at-dump-start' | 'schema-only';
}

export interface TableInfo {
  /** The canonical name (`table-names.ts`): e.g. `orders`, `sales.items`, `"Mixed Case"` on PostgreSQL. */
  name: string;
  rowEstimate: number;
  sizeBytes: number;
}

export interface DatabaseStats {
  sizeBytes: number;
  tableCount: number;
  rowEstimate: number;
}

export interface DumpRun {
  signal: AbortSignal;
  timeoutMs: number;
  lockWaitTimeoutMs: number;
}

/**
 * One adapter per database family. Credentials reach child processes through 0600 temp files,
 * never argv or the inherited environment.
 */
export interface DatabaseEngine {
  readonly kind: EngineKind;
  /**
   * The dump client's name and version, e.g. `pg_dump (PostgreSQL) 15.20`: of the client that
   * dumps `target` where the engine picks one per server version, else of the default one.
   */
  clientVersion(target?: ResolvedTarget): Promise<string>;
  stats(target: ResolvedTarget): Promise<DatabaseStats>;
  listTables(target: ResolvedTarget): Promise<TableInfo[]>;
  /**
   * Streams a dump into `sink` and counts the rows it holds. Resolves when the dump client
   * exited 0 and the sink finished; rejects with an `EngineError` otherwise, after killing the
   * client. The sink must stop when its signal aborts (pass it to `stream.pipeline`).
   */
  dump(target: ResolvedTarget, spec: DumpSpec, run: DumpRun, sink: DumpSink): Promise<DumpRows>;
}

/**
 * Where a dump goes: the client's stdout, passed through `taps` (transforms that observe the raw
 * bytes, such as a row counter) on its way.
 */
export type DumpSink = (stdout: Readable, signal: AbortSignal, taps: Transform[]) => Promise<void>;

/** Keeps the counts of the tables the backup holds; zero rows each when it holds no data. */
export function scopeTableRows(rows: Record<string, number>, spec: Pick<DumpSpec, 'scope' | 'tables' | 'includeData'>): Record<string, number> {
  let scoped = rows;
  if (spec.scope !== 'full' && spec.tables?.length) scoped = Object.fromEntries(Object.entries(scoped).filter(([t]) => spec.tables!.includes(t)));
  if (!spec.includeData) scoped = Object.fromEntries(Object.keys(scoped).map((t) => [t, 0]));
  return scoped;
}

/** Rows counted on the database after the dump (`count`), as a `DumpRows`. */
export async function rowsAfterDump(spec: Pick<DumpSpec, 'scope' | 'tables' | 'includeData'>, count: () => Promise<Record<string, number>>): Promise<DumpRows> {
  const rows = await count().catch((err: Error) => err);
  return { tableRows: rows instanceof Error ? rows : scopeTableRows(rows, spec), source: spec.includeData ? 'database-after-dump' : 'schema-only' };
}

export const DATABASE_ENGINES = Symbol('DATABASE_ENGINES');
