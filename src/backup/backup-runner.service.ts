import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { In, IsNull, Not, type Repository } from 'typeorm';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { writeArtifact } from '../codecs/write-artifact.js';
import { describeEncryption, EncryptionKeys } from '../codecs/encryption-keys.js';
import { EngineError } from '../common/errors.js';
import { ProcessRunner } from '../common/process-runner.js';
import { redact } from '../common/redact.js';
import { TargetLock, type TargetLockHandle } from '../common/target-lock.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions, type Compression } from '../config/options.js';
import type { DumpRows, DumpSpec } from '../engines/engine.interface.js';
import { EnginesService } from '../engines/engines.service.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { JobsWorker } from '../queue/jobs-worker.service.js';
import { JobName, PermanentJobError, type JobContext } from '../queue/jobs.js';
import { ARTIFACT_STORAGE, type ArtifactStorage } from '../storage/storage.interface.js';
import { TargetsService, type ResolvedTarget } from '../targets/targets.service.js';
import { ArtifactCommits, BackupDeleted, storageError } from './artifact-commit.js';
import { artifactKey } from './artifact-name.js';
import { logLine } from '../common/log-line.js';
import { BackupEvents, type BackupEvent } from './backup-events.js';
import { requestedStorages } from './backup-copies.service.js';
import { trackBackupProgress } from './backup-progress.js';
import { BackupRecord, BackupStatus, BackupType } from './entities/backup-record.entity.js';

const TERMINAL = [BackupStatus.Completed, BackupStatus.Verified, BackupStatus.Corrupted, BackupStatus.Failed, BackupStatus.Cancelled];
const ACTIVE = [BackupStatus.Queued, BackupStatus.Running];

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
    private readonly commits: ArtifactCommits,
    private readonly locks: TargetLock,
    private readonly runner: ProcessRunner,
    private readonly worker: JobsWorker,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    private readonly queue: JobsQueue,
    private readonly keys: EncryptionKeys,
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
   * the record names it in `metadata.database` and its description). With `tables` (a
   * table-level restore), of just those of them the database holds.
   * @returns the record (COMPLETED), or null when none of `tables` exists there (nothing to
   * save); throws with the reason if the backup failed.
   */
  async safetyBackup(targetName: string, restoreRunId: string, ctx: JobContext, opts: { database?: string; tables?: string[] | null } = {}): Promise<BackupRecord | null> {
    const target = this.targets.get(targetName);
    const other = opts.database && opts.database !== target.database ? opts.database : undefined;
    let tables: string[] | null = null;
    if (opts.tables?.length) {
      const resolved = await this.targets.resolve(target.name);
      const present = new Set((await this.engines.for(target.engine).listTables({ ...resolved, database: other ?? resolved.database })).map((t) => t.name));
      tables = opts.tables.filter((t) => present.has(t));
      if (!tables.length) return null;
    }
    const what = tables ? `Safety backup of table${tables.length > 1 ? 's' : ''} ${tables.join(', ')}${other ? ` of database "${other}"` : ''}` : undefined;
    const record = this.records.create({
      id: randomUUID(),
      type: BackupType.Manual,
      status: BackupStatus.Queued,
      target: target.name,
      engine: target.engine,
      scope: tables ? 'selective' : 'full',
      tables,
      includeSchema: true,
      includeData: true,
      format: 'plain',
      compression: this.options.dump.defaultCompression,
      // Holds the database's data like any backup: encrypted where the target's backups would be.
      encrypted: this.keys.canEncrypt() && (target.encrypt ?? this.keys.encryptByDefault()),
      encryption: null,
      fileKey: null,
      triggeredBy: `restore:${restoreRunId}`,
      description: what
        ? `${what} taken before restore ${restoreRunId}`
        : other
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
    await this.commits.discardPending(record, []);
    const started = Date.now();
    let target: ResolvedTarget | undefined;
    let fileKey: string;
    try {
      if (lockError) throw lockError;
      target = await this.sourceOf(record);
      fileKey = await this.dumpAndCommit(record, attempt, target, lock ? AbortSignal.any([ctx.signal, lock.signal]) : ctx.signal, ctx, started);
    } catch (err) {
      if (err instanceof BackupDeleted || (await this.commits.isDeleted(record.id).catch(() => false))) return this.cancelDeleted(record, attempt);
      return this.fail(record, attempt, started, err as Error, ctx, target);
    }
    // The record is COMPLETED: what fails from here on (reading it back, follow-ups) must not undo it.
    await this.announceCompleted(record.id, fileKey).catch((err: Error) =>
      this.logger.warn(logLine('backup committed, but a step after the commit failed', { id: record.id, error: err.message })),
    );
    return { fileKey };
  }

  /** The target, reaching the database this backup reads. */
  private async sourceOf(record: BackupRecord): Promise<ResolvedTarget> {
    const target = await this.targets.resolve(record.target).catch((err: Error) => {
      throw new EngineError(err.message, { retryable: false });
    });
    return { ...target, database: sourceDatabase(record, target.database) };
  }

  /**
   * Dumps the database into a new artifact and commits the record as `attempt`.
   * @returns the artifact's key. @throws what stopped it, the artifact and its partial removed.
   */
  private async dumpAndCommit(record: BackupRecord, attempt: number, target: ResolvedTarget, signal: AbortSignal, ctx: JobContext, started: number): Promise<string> {
    const engine = this.engines.for(target.engine);
    // The database's size (the progress estimate, the record) and the client's version are looked
    // up beside the dump, not before it: at 256 MB that wait was 2-3% of a backup. A failure of
    // theirs is the backup's failure, reported before the dump's own (the same cause, said first).
    const prelude = Promise.all([engine.stats(target), engine.clientVersion(target)]);
    prelude.catch(() => undefined);
    this.events.emit(BackupEvents.Started, { record } satisfies BackupEvent);
    this.logger.log(logLine('backup started', { id: record.id, target: record.target, attempt }));
    const compression = record.compression as Compression;
    const fileKey = artifactKey(record.target, record.type, record.format, compression, new Date(), record.encrypted);
    // Encrypted to what this worker is configured with now (rotation: new recipients, new backups).
    const encryption = record.encrypted ? this.keys.forNewBackup() : undefined;
    const writer = await this.storage.createWriter(fileKey, record.id, requestedStorages(record) ?? this.targets.get(record.target).storages).catch((err: Error) => {
      throw storageError(err, fileKey);
    });
    try {
      const level = compression === 'gzip' ? this.options.dump.gzipLevel : this.options.dump.zstdLevel;
      const artifact = writeArtifact(writer, compression, level, this.runner, encryption);
      const progress = trackBackupProgress({ records: this.records, logger: this.logger, record, attempt, ctx, estimateBytes: prelude.then(([stats]) => stats.sizeBytes), rawBytes: () => artifact.rawBytesSoFar(), written: () => writer.written() });
      const { dump } = this.options;
      const rows = await engine
        .dump(target, dumpSpecOf(record), { signal, timeoutMs: dump.timeoutMs, lockWaitTimeoutMs: dump.lockWaitTimeoutMs }, (stdout, sig, taps) => artifact.write(stdout, sig, taps))
        .catch(async (err: unknown) => {
          await prelude;
          throw err;
        })
        .finally(() => progress.stop());
      const [stats, clientVersion] = await prelude;
      if (!(await ctx.stillOwned())) throw new EngineError('the job lock was lost; another worker owns this backup now', { retryable: true });
      const { sha256, bytes, rawBytes } = artifact.result();
      const outcomes = await this.commits.commit(record, attempt, writer, fileKey, started, {
        status: BackupStatus.Completed,
        fileKey,
        sizeBytes: bytes,
        rawBytes,
        checksum: sha256,
        databaseSizeBytes: stats.sizeBytes,
        tableCount: stats.tableCount,
        rowEstimate: stats.rowEstimate,
        compressionRatio: bytes > 0 && rawBytes !== null ? Math.round((rawBytes / bytes) * 1000) / 1000 : null,
        encryption: encryption ? describeEncryption(encryption) : null,
        errorMessage: null,
        metadata: { ...(record.metadata ?? {}), clientVersion, database: target.database, ...this.rowsMetadata(rows, target) },
      });
      for (const o of outcomes.filter((x) => !x.ok)) await this.copyFailed(record.id, o.storage, o.error);
      return fileKey;
    } catch (err) {
      await writer.abort();
      throw storageError(err as Error, fileKey);
    }
  }

  /**
   * A destination of a committed backup failed while others hold it: logged, announced (audit,
   * metric) and a re-copy from a good destination queued.
   */
  private async copyFailed(id: string, storage: string, error: Error | undefined): Promise<void> {
    const message = error?.message ?? 'the copy could not be written';
    this.logger.warn(logLine('a destination of a backup failed; the others hold it, a re-copy is queued', { id, storage, error: message }));
    const record = await this.records.findOne({ where: { id }, withDeleted: true });
    if (record) this.events.emit(BackupEvents.CopyFailed, { record, detail: { storage, error: message } } satisfies BackupEvent);
    await this.queue
      .add(JobName.Recopy, { backupId: id, storage }, `recopy-${id}-${storage}-after-backup`)
      .catch((err: Error) => this.logger.warn(logLine('could not enqueue a re-copy', { id, storage, error: err.message })));
  }

  /** Logs, announces and queues the verification of a committed backup. */
  private async announceCompleted(id: string, fileKey: string): Promise<void> {
    const done = await this.records.findOneOrFail({ where: { id }, withDeleted: true });
    this.logger.log(logLine('backup completed', { id, target: done.target, file: fileKey, sizeBytes: done.sizeBytes, rawBytes: done.rawBytes, durationMs: done.durationMs }));
    this.events.emit(BackupEvents.Completed, { record: done } satisfies BackupEvent);
    await this.queue
      .add(JobName.Verify, { backupId: id, drill: false, requestedBy: 'system:after-backup' }, `verify-${id}-after-backup`)
      .catch((err: Error) => this.logger.warn(logLine('could not enqueue the verification of a backup', { id, error: err.message })));
  }

  /** The engine's exact row counts as recorded for restore drills, or why there are none. */
  private rowsMetadata(rows: DumpRows, target: ResolvedTarget): Record<string, unknown> {
    if (rows.tableRows instanceof Error) {
      const error = redact(rows.tableRows.message, this.targets.secretsOf(target));
      this.logger.warn(logLine('could not count table rows for drills', { target: target.name, error }));
      return { tableRowsError: error };
    }
    return { tableRows: rows.tableRows, tableRowsSource: rows.source };
  }

  /**
   * Ends the job of a deleted record: the record (still QUEUED or RUNNING, and owned by `attempt`
   * when given) becomes CANCELLED, and what its attempts left in storage goes. The job completes:
   * a deleted backup is never retried.
   */
  private async cancelDeleted(record: BackupRecord, attempt?: number): Promise<{ skipped: string }> {
    const now = new Date();
    const { ended, record: current } = await this.commits.endWithout(
      record.id,
      { status: In(ACTIVE), deletedAt: Not(IsNull()), ...(attempt !== undefined ? { attempts: attempt } : {}) },
      { status: BackupStatus.Cancelled, errorMessage: 'Cancelled: the backup was deleted before it completed', completedAt: now, durationMs: record.startedAt ? now.getTime() - record.startedAt.getTime() : null },
      (err) => this.logger.warn(logLine('could not remove what a deleted backup left in storage', { id: record.id, error: err.message })),
    );
    if (ended) this.logger.log(logLine('backup deleted before it completed: cancelled', { id: record.id, target: record.target }));
    return { skipped: `the backup was deleted; it is ${current?.status ?? 'gone'}` };
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
}

/** What to dump for a backup record. */
function dumpSpecOf(record: BackupRecord): DumpSpec {
  return {
    scope: record.scope as DumpSpec['scope'],
    tables: record.tables ?? undefined,
    includeSchema: record.includeSchema,
    includeData: record.includeData,
    format: record.format as DumpSpec['format'],
  };
}

/**
 * The database a backup reads: the one a safety backup of another database names in
 * `metadata.database` (set when it is created), else its target's own.
 */
function sourceDatabase(record: BackupRecord, own: string): string {
  const db = record.metadata?.safetyBackupFor ? record.metadata?.database : undefined;
  return typeof db === 'string' && db ? db : own;
}
