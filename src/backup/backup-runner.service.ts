import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { In, IsNull, Not, type Repository } from 'typeorm';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { compressor, zstdFromPipe } from '../codecs/compression.js';
import { hashFile, type FileDigest } from '../codecs/file-hash.js';
import { MeasureTap } from '../codecs/tap.js';
import { EngineError } from '../common/errors.js';
import { ProcessRunner } from '../common/process-runner.js';
import { redact } from '../common/redact.js';
import { TargetLock, type TargetLockHandle } from '../common/target-lock.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions, type Compression } from '../config/options.js';
import type { DumpSpec } from '../engines/engine.interface.js';
import { EnginesService } from '../engines/engines.service.js';
import { PostgresEngine } from '../engines/postgres/postgres.engine.js';
import { PgCopyRowCounter } from '../engines/postgres/pg-copy-rows.js';
import { Restorers } from '../engines/restorers.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { JobsWorker } from '../queue/jobs-worker.service.js';
import { JobName, PermanentJobError, type JobContext } from '../queue/jobs.js';
import { ARTIFACT_STORAGE, type ArtifactStorage, type ArtifactWriter } from '../storage/storage.interface.js';
import { TargetsService, type ResolvedTarget } from '../targets/targets.service.js';
import { artifactKey, manifestKey } from './artifact-name.js';
import { BackupEvents, type BackupEvent } from './backup-events.js';
import { trackBackupProgress } from './backup-progress.js';
import { BackupRecord, BackupStatus, BackupType } from './entities/backup-record.entity.js';
import { discardLeftovers } from './leftovers.js';
import { logLine } from '../common/log-line.js';

export const MANIFEST_FORMAT_VERSION = 1;
/** Bytes of artifact between early flushes to disk while zstd writes it (see `hashFile`). */
const FLUSH_EVERY = 32 * 2 ** 20;
const TERMINAL = [BackupStatus.Completed, BackupStatus.Verified, BackupStatus.Corrupted, BackupStatus.Failed, BackupStatus.Cancelled];
const ACTIVE = [BackupStatus.Queued, BackupStatus.Running];

/** The record was deleted while its job waited or ran: the job ends it CANCELLED, without its files. */
class BackupDeleted extends Error {
  constructor() {
    super('the backup was deleted while it ran');
  }
}

/**
 * Runs one backup job: dump → compress → hash → storage, then commits the record. A record is
 * committed only by the attempt that owns it (compare-and-set on `attempts`), so a worker that
 * lost its job can never publish a second artifact.
 *
 * Each run holds the target's lock (shared with restores, in Redis) from before it starts until
 * it has committed, records exact per-table row counts in `metadata.tableRows` for restore
 * drills, and enqueues a basic verification of the artifact once committed.
 *
 * A record deleted (soft) before it is committed never completes: the claim and the commit
 * both require it undeleted, and its job ends it CANCELLED with its partial, artifact and
 * manifest removed.
 */
@Injectable()
export class BackupRunner implements OnModuleInit {
  private readonly logger = new Logger('BackupRunner');

  constructor(
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    @Inject(ARTIFACT_STORAGE) private readonly storage: ArtifactStorage,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly targets: TargetsService,
    private readonly engines: EnginesService,
    private readonly restorers: Restorers,
    private readonly locks: TargetLock,
    private readonly runner: ProcessRunner,
    private readonly worker: JobsWorker,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    private readonly queue: JobsQueue,
  ) {}

  onModuleInit(): void {
    this.worker.register(JobName.Backup, (data, ctx) => this.run(data.recordId, ctx));
  }

  /**
   * Runs a backup job. `lockHeld`: the caller (a restore taking its safety backup) already holds
   * the target's lock; otherwise the run waits for it, up to the dump timeout.
   */
  async run(recordId: string, ctx: JobContext, opts: { lockHeld?: boolean } = {}): Promise<{ fileKey: string } | { skipped: string }> {
    const record = await this.records.findOne({ where: { id: recordId }, withDeleted: true });
    if (!record) throw new PermanentJobError(`Backup record ${recordId} does not exist`);
    if (record.deletedAt && ACTIVE.includes(record.status)) return this.cancelDeleted(record);
    if (TERMINAL.includes(record.status) || record.deletedAt) return { skipped: `record is ${record.status}` };

    let lock: TargetLockHandle | undefined;
    let lockError: Error | undefined;
    if (!opts.lockHeld && this.targets.has(record.target)) {
      // The physical database's lock: shared with every target name that reaches it.
      const t = this.targets.get(record.target);
      const key = this.targets.keyOf(t, sourceDatabase(record, t.database));
      lock = await this.locks
        .acquire(key, `backup:${record.id}`, { waitMs: this.options.dump.timeoutMs, signal: ctx.signal })
        .catch((err: Error) => {
          lockError = new EngineError(`could not take the target lock: ${err.message}`, { retryable: false });
          return undefined;
        });
    }
    try {
      return await this.runLocked(record, ctx, lock, lockError);
    } finally {
      await lock?.release();
    }
  }

  /**
   * Takes a safety backup inline, for a restore that already holds the database's lock: of the
   * target's own database, or of `opts.database` on its server (a database no target reaches;
   * the record names it in `metadata.database` and its description).
   * @returns the record (COMPLETED); throws with the reason if the backup failed.
   */
  async safetyBackup(targetName: string, restoreRunId: string, ctx: JobContext, opts: { database?: string } = {}): Promise<BackupRecord> {
    const target = this.targets.get(targetName);
    const other = opts.database && opts.database !== target.database ? opts.database : undefined;
    const record = this.records.create({
      id: randomUUID(),
      type: BackupType.Manual,
      status: BackupStatus.Queued,
      target: target.name,
      engine: target.engine,
      scope: 'full',
      tables: null,
      includeSchema: true,
      includeData: true,
      format: 'plain',
      compression: this.options.dump.defaultCompression,
      fileKey: null,
      triggeredBy: `restore:${restoreRunId}`,
      description: other
        ? `Safety backup of database "${other}" (on the server of target ${target.name}, not its own database) taken before restore ${restoreRunId}`
        : `Safety backup taken before restore ${restoreRunId}`,
      retentionDays: null,
      expiresAt: null,
      pinned: false,
      attempts: 0,
      metadata: { safetyBackupFor: restoreRunId, ...(other ? { database: other } : {}) },
    });
    await this.records.insert(record);
    const saved = await this.records.findOneByOrFail({ id: record.id });
    this.events.emit(BackupEvents.Requested, { record: saved } satisfies BackupEvent);
    await this.run(record.id, { ...ctx, attemptsMade: 0, maxAttempts: 1, updateProgress: async () => undefined }, { lockHeld: true });
    return this.records.findOneByOrFail({ id: record.id });
  }

  private async runLocked(record: BackupRecord, ctx: JobContext, lock: TargetLockHandle | undefined, lockError: Error | undefined): Promise<{ fileKey: string } | { skipped: string }> {
    const attempt = await this.claim(record);
    if (attempt === undefined) {
      const now = await this.records.findOne({ where: { id: record.id }, withDeleted: true });
      if (now?.deletedAt && ACTIVE.includes(now.status) && now.attempts === record.attempts) return this.cancelDeleted(now);
      return { skipped: 'another attempt claimed the record' };
    }
    // The artifacts earlier attempts had committed to storage without committing the record
    // (they crashed in between): gone before this attempt writes its own.
    await this.discardPending(record, []);
    const started = Date.now();
    const signal = lock ? AbortSignal.any([ctx.signal, lock.signal]) : ctx.signal;
    let target: ResolvedTarget | undefined;
    let writer: ArtifactWriter | undefined;
    let fileKey: string | undefined;
    let published: string | undefined;
    let committed = false;
    try {
      if (lockError) throw lockError;
      target = await this.targets.resolve(record.target).catch((err: Error) => {
        throw new EngineError(err.message, { retryable: false });
      });
      target = { ...target, database: sourceDatabase(record, target.database) };
      const engine = this.engines.for(target.engine);
      const [stats, clientVersion] = await Promise.all([engine.stats(target), engine.clientVersion(target)]);
      this.events.emit(BackupEvents.Started, { record } satisfies BackupEvent);
      this.logger.log(logLine('backup started', { id: record.id, target: record.target, attempt }));

      const compression = record.compression as Compression;
      fileKey = artifactKey(record.target, record.type, record.format, compression);
      writer = await this.storage.createWriter(fileKey, record.id);
      const raw = new MeasureTap();
      const out = new MeasureTap({ sha256: true });
      const spec: DumpSpec = {
        scope: record.scope as DumpSpec['scope'],
        tables: record.tables ?? undefined,
        includeSchema: record.includeSchema,
        includeData: record.includeData,
        format: record.format as DumpSpec['format'],
      };
      const level = compression === 'gzip' ? this.options.dump.gzipLevel : this.options.dump.zstdLevel;
      const w = writer;
      const counter = record.engine === 'postgres' && spec.format === 'plain' && spec.includeData ? new PgCopyRowCounter() : undefined;
      const taps: Transform[] = counter ? [raw, counter] : [raw];
      // With nothing to observe in the raw stream, zstd reads the dump client's pipe and writes the
      // artifact itself: its summary gives the raw size, reading the file back gives size and hash.
      let directInput: (() => number | undefined) | undefined;
      let rawSoFar: () => number | undefined = () => raw.bytes;
      let written: FileDigest | undefined;
      // PostgreSQL without an in-stream counter: exact row counts run beside the dump, in the
      // snapshot pg_dump itself reads (--snapshot), instead of a second pass after it.
      const snapshot =
        !counter && spec.includeData && engine instanceof PostgresEngine
          ? await engine.exportSnapshot(target, this.options.dump.lockWaitTimeoutMs).catch(() => undefined)
          : undefined;
      if (snapshot) spec.snapshot = snapshot.id;
      const snapshotRows = snapshot?.countRows().catch((err: Error) => err);
      const progress = trackBackupProgress({ records: this.records, logger: this.logger, record, attempt, ctx, estimateBytes: stats.sizeBytes, rawBytes: () => rawSoFar(), fd: w.fd });
      await engine
        .dump(target, spec, { signal, timeoutMs: this.options.dump.timeoutMs, lockWaitTimeoutMs: this.options.dump.lockWaitTimeoutMs }, async (stdout, sig) => {
          if (compression === 'zstd' && !counter) {
            // `pg_dump | zstd > file`: no dump or artifact byte passes through this process; the
            // file is hashed by reading it back right behind zstd (from the page cache).
            const codec = zstdFromPipe(this.runner, stdout, w.fd, level, sig);
            directInput = codec.inputBytes;
            rawSoFar = codec.bytesReadSoFar;
            [written] = await Promise.all([hashFile(w.fd, { writer: codec.done, signal: sig, flushEvery: FLUSH_EVERY }), codec.done]);
            return;
          }
          const codec = compressor(compression, this.runner, level);
          await Promise.all([pipeline([stdout, ...taps, codec.stream, out, w.stream] as unknown as NodeJS.ReadWriteStream[], { signal: sig }), codec.done]);
        })
        .catch(async (err: unknown) => {
          await snapshot?.close(); // ends a count still running (it would fail like the dump)
          throw err;
        })
        .finally(() => progress.stop());
      const rawBytes = directInput ? (directInput() ?? null) : raw.bytes;
      let rowCounts: Record<string, unknown>;
      if (snapshot) {
        rowCounts = this.scopeRows(await snapshotRows!, spec, target);
        await snapshot.close();
      } else {
        rowCounts = await this.tableRows(target, spec, counter);
      }

      if (!(await ctx.stillOwned())) throw new EngineError('the job lock was lost; another worker owns this backup now', { retryable: true });
      const checksum = written?.sha256 ?? out.digest();
      const sizeBytes = written?.bytes ?? out.bytes;
      const result: Partial<BackupRecord> = {
        status: BackupStatus.Completed,
        fileKey,
        sizeBytes,
        rawBytes,
        checksum,
        databaseSizeBytes: stats.sizeBytes,
        tableCount: stats.tableCount,
        rowEstimate: stats.rowEstimate,
        compressionRatio: sizeBytes > 0 && rawBytes !== null ? Math.round((rawBytes / sizeBytes) * 1000) / 1000 : null,
        errorMessage: null,
        metadata: { ...(record.metadata ?? {}), clientVersion, database: target.database, ...rowCounts },
      };
      // Announce the key before it becomes visible in storage: if this process dies between the
      // rename and the record update, the next attempt (or the reconciler) removes the file.
      const pending = await this.notePending(record.id, attempt, fileKey);
      if (!pending) throw new EngineError('this attempt was superseded before it could commit; its artifact was discarded', { retryable: true });
      published = fileKey;
      await writer.commit().catch((err: Error) => {
        throw storageError(err, fileKey!);
      });
      writer = undefined;
      // Completion time: when the artifact became durable under its key.
      result.completedAt = new Date();
      result.durationMs = result.completedAt.getTime() - started;
      // The manifest's partial file is named after the record, so a crash mid-write leaves a partial
      // the next attempt or the reconciler removes.
      await this.storage.writeJson(manifestKey(fileKey), this.manifest(record, result, clientVersion, target.database), record.id).catch((err: Error) => {
        throw storageError(err, manifestKey(fileKey!));
      });
      const others = ((pending.pendingFileKeys as string[] | undefined) ?? []).filter((k) => k !== fileKey);
      const { pendingFileKeys: _drop, progress: _progress, ...metadata } = { ...pending, ...(result.metadata ?? {}) };
      // NOTE: the commit requires the record undeleted, atomically: a delete that lands after it
      // is a soft delete of a completed backup (the file stays, as for any soft delete).
      const commit = await this.records.update({ id: record.id, attempts: attempt, status: BackupStatus.Running, deletedAt: IsNull() }, { ...result, metadata });
      if (!commit.affected) {
        if (await this.isDeleted(record.id)) throw new BackupDeleted();
        throw new EngineError('this attempt was superseded before it could commit; its artifact was discarded', { retryable: true });
      }
      published = undefined;
      committed = true;
      // A fenced-off earlier attempt may have renamed its file into place meanwhile.
      for (const k of others) await this.deleteArtifact(k);
      const done = await this.records.findOneOrFail({ where: { id: record.id }, withDeleted: true });
      this.logger.log(logLine('backup completed', { id: record.id, target: record.target, file: fileKey, sizeBytes, rawBytes, durationMs: result.durationMs }));
      this.events.emit(BackupEvents.Completed, { record: done } satisfies BackupEvent);
      await this.queue
        .add(JobName.Verify, { backupId: record.id, drill: false, requestedBy: 'system:after-backup' }, `verify-${record.id}-after-backup`)
        .catch((err: Error) => this.logger.warn(logLine('could not enqueue the verification of a backup', { id: record.id, error: err.message })));
      return { fileKey };
    } catch (err) {
      if (committed) {
        // The record is COMPLETED: what failed after the commit (reading it back, follow-ups) must not undo it.
        this.logger.warn(logLine('backup committed, but a step after the commit failed', { id: record.id, error: (err as Error).message }));
        return { fileKey: fileKey! };
      }
      await writer?.abort();
      if (published) await this.deleteArtifact(published);
      if (err instanceof BackupDeleted || (await this.isDeleted(record.id).catch(() => false))) {
        return this.cancelDeleted(record, attempt);
      }
      return this.fail(record, attempt, started, storageError(err as Error, fileKey), ctx, target);
    }
  }

  private async isDeleted(id: string): Promise<boolean> {
    return !!(await this.records.findOne({ where: { id }, withDeleted: true }))?.deletedAt;
  }

  /**
   * Ends the job of a deleted record: the record (still QUEUED or RUNNING, and owned by `attempt`
   * when given) becomes CANCELLED, and what its attempts left in storage goes. The job completes:
   * a deleted backup is never retried.
   */
  private async cancelDeleted(record: BackupRecord, attempt?: number): Promise<{ skipped: string }> {
    const now = new Date();
    const res = await this.records.update(
      { id: record.id, status: In(ACTIVE), deletedAt: Not(IsNull()), ...(attempt !== undefined ? { attempts: attempt } : {}) },
      { status: BackupStatus.Cancelled, errorMessage: 'Cancelled: the backup was deleted before it completed', completedAt: now, durationMs: record.startedAt ? now.getTime() - record.startedAt.getTime() : null },
    );
    const current = await this.records.findOne({ where: { id: record.id }, withDeleted: true });
    if (res.affected && current) {
      await discardLeftovers(this.storage, current).catch((err: Error) =>
        this.logger.warn(logLine('could not remove what a deleted backup left in storage', { id: record.id, error: err.message })),
      );
      this.logger.log(logLine('backup deleted before it completed: cancelled', { id: record.id, target: record.target }));
    }
    return { skipped: `the backup was deleted; it is ${current?.status ?? 'gone'}` };
  }

  /**
   * Adds `fileKey` to the record's `metadata.pendingFileKeys` if this attempt still owns it.
   * @returns the record's metadata as written, or undefined if another attempt owns the record.
   */
  private async notePending(id: string, attempt: number, fileKey: string): Promise<Record<string, unknown> | undefined> {
    const current = await this.records.findOne({ where: { id }, withDeleted: true });
    if (!current || current.attempts !== attempt || current.status !== BackupStatus.Running) return undefined;
    if (current.deletedAt) throw new BackupDeleted();
    const keys = [...(((current.metadata?.pendingFileKeys as string[] | undefined) ?? []).filter((k) => k !== fileKey)), fileKey];
    const metadata = { ...(current.metadata ?? {}), pendingFileKeys: keys };
    const res = await this.records.update({ id, attempts: attempt, status: BackupStatus.Running }, { metadata });
    return res.affected ? metadata : undefined;
  }

  /**
   * Removes the artifacts that attempts of `record` published without committing it (crash
   * between the rename and the record update), except `keep`. Leaves the record's list as is.
   */
  async discardPending(record: Pick<BackupRecord, 'id' | 'metadata' | 'fileKey'>, keep: string[]): Promise<void> {
    for (const k of (record.metadata?.pendingFileKeys as string[] | undefined) ?? []) {
      if (!keep.includes(k) && k !== record.fileKey) await this.deleteArtifact(k);
    }
  }

  private async deleteArtifact(key: string): Promise<void> {
    await this.storage.delete(key).catch(() => false);
    await this.storage.delete(manifestKey(key)).catch(() => false);
  }

  /**
   * Exact rows per table for restore drills: counted from the dump stream itself for plain
   * PostgreSQL dumps (the dump's own snapshot), else counted on the database right after the dump
   * in one snapshot (writes between the two can make a drill report a difference).
   */
  private async tableRows(target: ResolvedTarget, spec: DumpSpec, counter?: PgCopyRowCounter): Promise<Record<string, unknown>> {
    if (counter) return { tableRows: counter.rows, tableRowsSource: 'dump' };
    const rows = await this.restorers.for(target.engine).tableRows(target).catch((err: Error) => err);
    return this.scopeRows(rows, spec, target, spec.includeData ? 'database-after-dump' : 'schema-only');
  }

  /** Keeps the counts of the tables the backup holds (zero rows when it holds no data). */
  private scopeRows(rows: Record<string, number> | Error, spec: DumpSpec, target: ResolvedTarget, source = 'dump-snapshot'): Record<string, unknown> {
    if (rows instanceof Error) {
      const error = redact(rows.message, this.targets.secretsOf(target));
      this.logger.warn(logLine('could not count table rows for drills', { target: target.name, error }));
      return { tableRowsError: error };
    }
    let scoped = rows;
    if (spec.scope !== 'full' && spec.tables?.length) scoped = Object.fromEntries(Object.entries(scoped).filter(([t]) => spec.tables!.includes(t)));
    if (!spec.includeData) scoped = Object.fromEntries(Object.keys(scoped).map((t) => [t, 0]));
    return { tableRows: scoped, tableRowsSource: source };
  }

  /** Moves the record to RUNNING and takes the next attempt number; undefined if someone else did. */
  private async claim(record: BackupRecord): Promise<number | undefined> {
    const next = record.attempts + 1;
    const res = await this.records.update(
      { id: record.id, attempts: record.attempts, status: In(ACTIVE), deletedAt: IsNull() },
      { status: BackupStatus.Running, attempts: next, startedAt: new Date(), errorMessage: null },
    );
    return res.affected ? next : undefined;
  }

  private async fail(record: BackupRecord, attempt: number, started: number, err: Error, ctx: JobContext, target?: ResolvedTarget): Promise<never> {
    const message = redact(err.message || String(err), this.targets.secretsOf(target) ?? []);
    const retryable = err instanceof EngineError ? err.retryable : !(err instanceof PermanentJobError);
    const final = !retryable || ctx.attemptsMade + 1 >= ctx.maxAttempts;
    const now = new Date();
    await this.records.update(
      { id: record.id, attempts: attempt },
      final
        ? { status: BackupStatus.Failed, errorMessage: message, completedAt: now, durationMs: now.getTime() - started }
        : { status: BackupStatus.Queued, errorMessage: `attempt ${attempt} failed, will retry: ${message}` },
    );
    this.logger.warn(logLine(final ? 'backup failed' : 'backup attempt failed, retrying', { id: record.id, target: record.target, error: message }));
    if (final) {
      const failed = await this.records.findOne({ where: { id: record.id }, withDeleted: true });
      if (failed) this.events.emit(BackupEvents.Failed, { record: failed } satisfies BackupEvent);
      throw new PermanentJobError(message);
    }
    throw new Error(message);
  }

  private manifest(record: BackupRecord, result: Partial<BackupRecord>, clientVersion: string, database: string) {
    return {
      formatVersion: MANIFEST_FORMAT_VERSION,
      id: record.id,
      target: record.target,
      database,
      engine: record.engine,
      clientVersion,
      type: record.type,
      scope: record.scope,
      tables: record.tables,
      includeSchema: record.includeSchema,
      includeData: record.includeData,
      format: record.format,
      compression: record.compression,
      checksum: { algorithm: 'sha256', value: result.checksum },
      sizeBytes: result.sizeBytes,
      rawBytes: result.rawBytes,
      databaseSizeBytes: result.databaseSizeBytes,
      tableCount: result.tableCount,
      rowEstimate: result.rowEstimate,
      createdAt: record.createdAt,
      completedAt: result.completedAt,
      triggeredBy: record.triggeredBy,
    };
  }
}

/**
 * The database a backup reads: the one a safety backup of another database names in
 * `metadata.database` (set when it is created), else its target's own.
 */
function sourceDatabase(record: BackupRecord, own: string): string {
  const db = record.metadata?.safetyBackupFor ? record.metadata?.database : undefined;
  return typeof db === 'string' && db ? db : own;
}

/**
 * A storage failure said plainly: a full disk names itself ("no space left on the backup
 * storage"), since the raw `ENOSPC: no space left on device, write` names no file.
 */
export function storageError(err: Error, key: string | undefined): Error {
  // A child process (zstd writing the file itself) reports the condition in words, not as a code.
  const code =
    (err as NodeJS.ErrnoException).code ??
    /\b(ENOSPC|EDQUOT)\b/.exec(err.message)?.[1] ??
    (/no space left on device/i.test(err.message) ? 'ENOSPC' : /disk quota exceeded/i.test(err.message) ? 'EDQUOT' : undefined);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const what = code === 'ENOSPC' ? 'no space left on the backup storage' : 'the disk quota of the backup storage is exhausted';
    return new EngineError(`${what} while writing ${key ?? 'an artifact'} (${code}); free space or move STORAGE_DIR, then back up again`, { retryable: true });
  }
  return err;
}
