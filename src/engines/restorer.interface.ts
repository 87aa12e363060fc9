import type { Duplex, Readable } from 'node:stream';
import type { EngineKind } from '../config/options.js';
import type { ResolvedTarget } from '../targets/targets.service.js';
import type { BackupScopeKind, DumpFormat } from './engine.interface.js';

/** What to load, and where. */
export interface RestoreSpec {
  /** Destination database (validated name): the target's own or another on the same server. */
  database: string;
  format: DumpFormat;
  scope: BackupScopeKind;
  tables?: string[] | null;
  includeSchema: boolean;
  includeData: boolean;
  /** Replace what the destination holds (see docs/restore.md for what each engine drops). */
  dropExisting: boolean;
}

export interface RestoreRunOptions {
  signal: AbortSignal;
  timeoutMs: number;
  lockWaitTimeoutMs: number;
}

/**
 * The dump bytes as a chain: `source` (storage) through `transforms` (checksum gate,
 * decompressor). A transform errors if the bytes fail verification; the restorer must then abort
 * without committing. `done` settles when codec child processes have exited.
 */
export interface RestoreInput {
  source: Readable;
  transforms: Duplex[];
  done: Promise<void>[];
}

/**
 * Restore and verification adapter of one database family (kept apart from the dump engines).
 * Table names are canonical (`table-names.ts`), as `DatabaseEngine.listTables` shows them.
 */
export interface DatabaseRestorer {
  readonly kind: EngineKind;
  databaseExists(target: ResolvedTarget, name: string): Promise<boolean>;
  createDatabase(target: ResolvedTarget, name: string): Promise<void>;
  dropDatabase(target: ResolvedTarget, name: string): Promise<void>;
  /** Exact row count of every base table of `database` (default: the target's), from one snapshot. */
  tableRows(target: ResolvedTarget, database?: string): Promise<Record<string, number>>;
  /** Loads the dump into `spec.database`, all-or-nothing where the engine allows it. */
  restore(target: ResolvedTarget, spec: RestoreSpec, input: RestoreInput, run: RestoreRunOptions): Promise<void>;
}

/** Database names a request may name: letters, digits and `_`, at most 63. */
export const DATABASE_NAME = /^[A-Za-z0-9_]{1,63}$/;
