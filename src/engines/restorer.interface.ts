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
  /**
   * Restore only these tables (canonical names, `table-names.ts`) out of the backup: only they are
   * replaced (with `dropExisting`) or created, and nothing else in the destination changes. The
   * restore fails, before anything is committed, if the backup lacks one of them.
   */
  onlyTables?: string[] | null;
  /** The destination was created, empty, by this restore (so it may be replaced as a whole). */
  createdDatabase?: boolean;
  /**
   * The destination does not exist yet and the restore brings it into being at its commit (see
   * `DatabaseRestorer.createsAtCommit`); set only with `createdDatabase`.
   */
  createAtCommit?: boolean;
}

export interface RestoreRunOptions {
  signal: AbortSignal;
  timeoutMs: number;
  lockWaitTimeoutMs: number;
  /**
   * Called right before the restore commits (PostgreSQL: before COMMIT is sent; MySQL: before
   * the swap). A rejection stops the restore with nothing committed (e.g. the attempt no longer
   * owns its run).
   */
  beforeCommit?: () => Promise<void>;
  /** Where scratch databases are recorded, so that one a dead worker left behind is dropped. */
  scratch?: ScratchRegistry;
}

/**
 * The dump bytes as a chain: `source` (storage) through `transforms` (checksum gate,
 * decompressor). A transform errors if the bytes fail verification. The end of the chain is no
 * proof that the dump is whole (a codec child that dies just stops its output): a restorer
 * commits only after `verified()` resolved. `done` settles when codec child processes exited.
 */
export interface RestoreInput {
  source: Readable;
  transforms: Duplex[];
  done: Promise<void>[];
  /**
   * Resolves once the chain has ended and every byte passed every check (checksum, codec exit
   * status, decompressed size); rejects with the reason otherwise. Call it after the chain ended.
   */
  verified(): Promise<void>;
  /** The decompressed size recorded at backup time, when known. */
  rawBytes?: number | null;
  /**
   * Instead of the chain (never both, and before touching `transforms`), where the decompressor
   * can write itself (zstd): it writes the dump straight to `output` (a descriptor) or to a pipe
   * (`'pipe'`: `stdout`, to pass as a child's stdin), so no decompressed byte passes through this
   * process. The reader then sees an end of input before `verified()` resolved: use it only where
   * the commit is a step of its own after the reader finished (a swap or rename, or a verified file).
   */
  direct?: (output: number | 'pipe', signal?: AbortSignal) => DirectOutput;
  /** Resolves once nothing reads the artifact's descriptor any more (for its owner to close it). */
  settled?(): Promise<void>;
}

/** The decompressor of `RestoreInput.direct`. */
export interface DirectOutput {
  /** With `'pipe'`: the pipe's read end (pass it as a child's stdin, then destroy this copy). */
  stdout: Readable | null;
  /** Settles once every compressed byte was fed in and the decompressor exited (0: resolves). */
  done: Promise<void>;
}

/** A scratch database in use. */
export interface ScratchLease {
  /** Renews the lease; false if it was lost (expired: the janitor may drop the database). */
  held(): Promise<boolean>;
  /** Ends the lease; `dropped: false` keeps the database recorded, for the janitor to drop. */
  release(dropped: boolean): Promise<void>;
}

/**
 * Records scratch databases (`bm_rs_*`, `bm_drill_*`) before they are created, with a lease held
 * while they are in use, so that those of a dead worker are found and dropped.
 */
export interface ScratchRegistry {
  claim(target: ResolvedTarget, name: string): Promise<ScratchLease>;
}

/**
 * Restore and verification adapter of one database family (kept apart from the dump engines).
 * Table names are canonical (`table-names.ts`), as `DatabaseEngine.listTables` shows them.
 */
export interface DatabaseRestorer {
  readonly kind: EngineKind;
  databaseExists(target: ResolvedTarget, name: string): Promise<boolean>;
  createDatabase(target: ResolvedTarget, name: string): Promise<void>;
  /**
   * Whether a restore of such a backup into a database that does not exist yet creates that
   * database itself, as its commit (PostgreSQL: a whole custom archive is loaded into a scratch
   * database that is then renamed to it). The caller then does not create it first, and a restore
   * that fails or is killed before its commit leaves no database of that name behind.
   */
  createsAtCommit?(spec: Pick<RestoreSpec, 'format' | 'scope' | 'includeSchema' | 'onlyTables'>): boolean;
  dropDatabase(target: ResolvedTarget, name: string): Promise<void>;
  /** Exact row count of every base table of `database` (default: the target's), from one snapshot. */
  tableRows(target: ResolvedTarget, database?: string): Promise<Record<string, number>>;
  /** Loads the dump into `spec.database`, all-or-nothing where the engine allows it. */
  restore(target: ResolvedTarget, spec: RestoreSpec, input: RestoreInput, run: RestoreRunOptions): Promise<void>;
}

/** Database names a request may name: letters, digits and `_`, at most 63. */
export const DATABASE_NAME = /^[A-Za-z0-9_]{1,63}$/;

/** Every `DatabaseRestorer`, one per engine kind (see `Restorers`). */
export const DATABASE_RESTORERS = Symbol('DATABASE_RESTORERS');
