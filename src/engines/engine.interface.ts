import type { Readable } from 'node:stream';
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
  /** PostgreSQL: an exported snapshot for `pg_dump --snapshot` (shared with the row counts). */
  snapshot?: string;
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
   * Streams a dump into `sink`. Resolves when the dump client exited 0 and the sink finished;
   * rejects with an `EngineError` otherwise, after killing the client. The sink must stop when
   * its signal aborts (pass it to `stream.pipeline`).
   */
  dump(target: ResolvedTarget, spec: DumpSpec, run: DumpRun, sink: DumpSink): Promise<void>;
}

export type DumpSink = (stdout: Readable, signal: AbortSignal) => Promise<void>;

export const DATABASE_ENGINES = Symbol('DATABASE_ENGINES');
