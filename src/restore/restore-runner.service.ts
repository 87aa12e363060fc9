import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { InjectRepository } from '@nestjs/typeorm';
import { In, IsNull, LessThan, Not, type Repository } from 'typeorm';
import type { Actor } from '../auth/roles.js';
import { BackupsService } from '../backup/backups.service.js';
import { BackupRecord } from '../backup/entities/backup-record.entity.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { EngineError } from '../common/errors.js';
import { redact } from '../common/redact.js';
import { TargetLock, type TargetLockHandle } from '../common/target-lock.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { RestoreStoppedError } from '../engines/restore-client.js';
import { Restorers } from '../engines/restorers.js';
import type { BackupScopeKind, DumpFormat } from '../engines/engine.interface.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { JobsWorker } from '../queue/jobs-worker.service.js';
import { JobName, PermanentJobError, type JobContext } from '../queue/jobs.js';
import { TargetsService, type ResolvedTarget } from '../targets/targets.service.js';
import { ArtifactLoader } from './artifact-loader.js';
import { restoreTables } from './dto/restore.dto.js';
import { endRunUpdate, FINAL_RESTORE_STATUSES, RestoreRun, RestoreStatus } from './entities/restore-run.entity.js';
import { RestoreDestinations } from './restore-destinations.js';
import { RestoreEvents, type RestoreEvent } from './restore-events.js';
import { cancelledMessage, interruptedMessage } from './restore-state.js';
import { ScratchDatabases } from './scratch-databases.js';
import { logLine } from '../common/log-line.js';

/**
 * Runs restore jobs: waits for the destination database's lock (shared with backups of every
 * target that reaches it), checks the destination again, takes a safety backup when it exists,
 * then streams the artifact through the checksum gate and decompressor into the engine's restorer.
 * A run never stays RUNNING: failures are recorded, and a reconciler fails runs whose job is gone.
 */
@Injectable()
export class RestoreRunner implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('RestoreRunner');
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectRepository(RestoreRun, CATALOG_CONNECTION) private readonly runs: Repository<RestoreRun>,
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly backups: Repository<BackupRecord>,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly targets: TargetsService,
    private readonly locks: TargetLock,
    private readonly restorers: Restorers,
    private readonly loader: ArtifactLoader,
    private readonly worker: JobsWorker,
    private readonly queue: JobsQueue,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    private readonly backupsService: BackupsService,
    private readonly destinations: RestoreDestinations,
    private readonly scratch: ScratchDatabases,
  ) {}

  onModuleInit(): void {
    this.worker.register(JobName.Restore, (data, ctx) => this.run(data.runId, ctx));
  }

  onApplicationBootstrap(): void {
    if (!this.options.workers) return;
    this.timer = setInterval(() => void this.reconcile().catch((e: Error) => this.logger.warn(`reconcile failed: ${e.message}`)), this.options.queue.stalledIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async run(runId: string, ctx: JobContext): Promise<{ status: RestoreStatus } | { skipped: string }> {
    const initial = await this.runs.findOneBy({ id: runId });
    if (!initial) throw new PermanentJobError(`Restore run ${runId} does not exist`);
    if (FINAL_RESTORE_STATUSES.includes(initial.status)) return { skipped: `run is ${initial.status}` };
    // NOTE: BullMQ hands a stalled job (its worker died) to another worker whatever `attempts`
    // says; a restore that started once is never started again.
    if (initial.status === RestoreStatus.Running) {
      await this.failInterrupted(initial);
      return { skipped: 'the run was interrupted earlier; it is not run again' };
    }

    let lock: TargetLockHandle | undefined;
    let lockError: Error | undefined;
    try {
      // One lock per physical database, whichever target name reaches it (shared with backups).
      const key = this.targets.keyOf(this.targets.get(initial.target), initial.database);
      lock = await this.locks.acquire(key, `restore:${initial.id}`, { waitMs: this.options.dump.timeoutMs, signal: ctx.signal });
    } catch (err) {
      lockError = new EngineError(`could not take the target lock: ${(err as Error).message}`, { retryable: false });
    }
    try {
      return await this.runLocked(initial, ctx, lock, lockError);
    } finally {
      await lock?.release();
    }
  }

  private async runLocked(initial: RestoreRun, ctx: JobContext, lock: TargetLockHandle | undefined, lockError: Error | undefined) {
    const attempt = initial.attempts + 1;
    const claimed = await this.runs.update(
      { id: initial.id, attempts: initial.attempts, status: RestoreStatus.Queued },
      { status: RestoreStatus.Running, attempts: attempt, startedAt: new Date(), errorMessage: null },
    );
    if (!claimed.affected) return { skipped: 'another attempt claimed the run' };
    const started = Date.now();
    const run = await this.runs.findOneByOrFail({ id: initial.id });
    this.events.emit(RestoreEvents.Started, { run, actor: actorOf(run) } satisfies RestoreEvent);
    let target: ResolvedTarget | undefined;
    let created = false;
    /** The restore creates the new database itself, as its commit (`createsAtCommit`). */
    let atCommit = false;
    let loaded = false;
    let metadata: NonNullable<RestoreRun['metadata']> = { ...(run.metadata ?? {}) };
    try {
      if (lockError || !lock) throw lockError ?? new EngineError('could not take the target lock', { retryable: false });
      const signal = AbortSignal.any([ctx.signal, lock.signal]);
      const backup = await this.backups.findOne({ where: { id: run.backupId }, withDeleted: true });
      if (!backup || backup.deletedAt) throw new EngineError(`backup ${run.backupId} no longer exists or was deleted`, { retryable: false });
      // An encrypted backup whose identity is not configured here fails now, before anything changes.
      if (backup.encrypted) this.loader.keysFor(backup);
      target = await this.targets.resolve(run.target).catch((err: Error) => {
        throw new EngineError(err.message, { retryable: false });
      });
      const restorer = this.restorers.for(target.engine);
      this.logger.log(logLine('restore started', { id: run.id, backup: backup.id, target: run.target, database: run.database, attempt }));

      // Checked again under the lock: a database absent at request time may exist by now.
      const destination = await this.destinations.check(target, run.database, 'run').catch((err: Error) => {
        throw new EngineError(err.message, { retryable: false });
      });
      const exists = destination.kind === 'own' || (destination.kind === 'allowed' && (await restorer.databaseExists(target, run.database)));
      const onlyTables = restoreTables(run);
      if (!exists) {
        atCommit = restorer.createsAtCommit?.({ format: backup.format as DumpFormat, scope: backup.scope as BackupScopeKind, includeSchema: backup.includeSchema, onlyTables }) ?? false;
        if (!atCommit) await restorer.createDatabase(target, run.database);
        created = true;
        metadata = { ...metadata, createdDatabase: true, ...(atCommit ? { createdAtCommit: true } : {}) };
        await this.runs.update({ id: run.id, attempts: attempt }, { metadata });
      } else if (run.safetyBackup) {
        const safety = await this.safetyBackup(run, target, { ...ctx, signal }).catch((err: Error) => {
          throw new EngineError(`the safety backup failed, so nothing was restored: ${err.message}`, { retryable: false });
        });
        if (safety) await this.runs.update({ id: run.id }, { safetyBackupId: safety.id });
        else {
          metadata = { ...metadata, safetyBackupSkipped: 'none of the tables to restore exists in the destination yet: there was nothing to save' };
          await this.runs.update({ id: run.id, attempts: attempt }, { metadata });
        }
      }

      // The last check before the commit: this attempt still holds its locks and owns the run.
      // It records that the commit started, so that a run interrupted later says what it left.
      const beforeCommit = async () => {
        if (lock.signal.aborted) throw new EngineError(`the target lock was lost before the commit; nothing was committed`, { retryable: false });
        if (!(await ctx.stillOwned())) throw new EngineError(`this worker lost the restore job (its job lock expired) before the commit; nothing was committed`, { retryable: false });
        metadata = { ...metadata, commitStartedAt: new Date().toISOString() };
        const res = await this.runs.update({ id: run.id, attempts: attempt, status: RestoreStatus.Running }, { metadata });
        if (!res.affected) throw new EngineError(`the run was ended by another worker before the commit; nothing was committed`, { retryable: false });
      };
      await this.loader.restore(backup, target, restorer, {
        database: run.database,
        dropExisting: run.dropExisting,
        onlyTables,
        createdDatabase: created,
        createAtCommit: atCommit,
        signal,
        beforeCommit,
        scratch: this.scratch,
      });
      loaded = true;
      if (!(await ctx.stillOwned())) this.logger.warn(logLine('restore finished after its job lock was lost', { id: run.id }));
      const completedAt = new Date();
      const result = endRunUpdate(RestoreStatus.Completed, {
        completedAt,
        durationMs: completedAt.getTime() - started,
        errorMessage: null,
        metadata: { ...metadata, createdDatabase: created, checksum: backup.checksum },
      });
      await this.runs.update({ id: run.id, attempts: attempt }, result);
      const done = await this.runs.findOneByOrFail({ id: run.id });
      this.logger.log(logLine('restore completed', { id: run.id, target: run.target, database: run.database, durationMs: done.durationMs }));
      this.events.emit(RestoreEvents.Completed, { run: done, actor: actorOf(done) } satisfies RestoreEvent);
      return { status: RestoreStatus.Completed };
    } catch (err) {
      // A shutdown (not a lost lock) stopped it before its commit: CANCELLED, not FAILED. Once
      // the commit is under way the client is not stopped, and its own outcome is reported.
      const beforeCommitPoint = err instanceof RestoreStoppedError || typeof metadata.commitStartedAt !== 'string';
      const shutdown = ctx.signal.aborted && !lock?.signal.aborted && beforeCommitPoint;
      let dropped = false;
      // A database created at the commit exists only if the restore got that far.
      if (created && target && (!atCommit || loaded)) {
        dropped = await this.restorers
          .for(target.engine)
          .dropDatabase(target, run.database)
          .then(
            () => true,
            (e: Error) => {
              this.logger.warn(logLine('could not drop the database created for a failed restore', { id: run.id, error: e.message }));
              return false;
            },
          );
      }
      const completedAt = new Date();
      const ended = { ...run, metadata };
      const message = shutdown ? cancelledMessage(ended, dropped) : redact((err as Error).message || String(err), this.targets.secretsOf(target));
      const status = shutdown ? RestoreStatus.Cancelled : RestoreStatus.Failed;
      await this.runs.update({ id: run.id, attempts: attempt }, endRunUpdate(status, { errorMessage: message, completedAt, durationMs: completedAt.getTime() - started }));
      this.logger.warn(logLine(shutdown ? 'restore cancelled by the shutdown' : 'restore failed', { id: run.id, target: run.target, database: run.database, error: message }));
      const failed = await this.runs.findOneBy({ id: run.id });
      if (failed) this.events.emit(shutdown ? RestoreEvents.Cancelled : RestoreEvents.Failed, { run: failed, actor: actorOf(failed) } satisfies RestoreEvent);
      if (shutdown) return { status: RestoreStatus.Cancelled };
      throw new PermanentJobError(message);
    }
  }

  /**
   * Ends a run found RUNNING when its job comes round again: an earlier attempt started it and
   * stopped (its worker died). It is never run again. Attempts goes up first: from then on an
   * earlier attempt that was only frozen can neither commit (see `beforeCommit`) nor record
   * anything; the run is read again after that, so its message sees whether that attempt's commit
   * had started.
   */
  private async failInterrupted(r: RestoreRun, detail?: string): Promise<boolean> {
    const fenced = await this.runs.update({ id: r.id, status: RestoreStatus.Running, attempts: r.attempts }, { attempts: r.attempts + 1 });
    if (!fenced.affected) return false;
    const now = (await this.runs.findOneBy({ id: r.id })) ?? r;
    const message = interruptedMessage(now, detail);
    const res = await this.runs.update(
      { id: r.id, status: RestoreStatus.Running, attempts: r.attempts + 1 },
      endRunUpdate(RestoreStatus.Failed, { errorMessage: message, completedAt: new Date() }),
    );
    if (res.affected) {
      this.logger.warn(logLine('restore interrupted earlier; not run again', { id: r.id, target: r.target, database: r.database, error: message }));
      const failed = await this.runs.findOneBy({ id: r.id });
      if (failed) this.events.emit(RestoreEvents.Failed, { run: failed, actor: actorOf(failed) } satisfies RestoreEvent);
    }
    return !!res.affected;
  }

  /**
   * Fails runs left QUEUED or RUNNING whose job failed or vanished (e.g. a worker crash), a RUNNING
   * one with the same end as `failInterrupted`, and frees the destination of any ended run that
   * still holds it (`activeKey`).
   */
  async reconcile(): Promise<number> {
    await this.runs.update({ activeKey: Not(IsNull()), status: Not(In([RestoreStatus.Queued, RestoreStatus.Running])) }, { activeKey: null });
    const cutoff = new Date(Date.now() - 2 * this.options.queue.lockDurationMs);
    const stale = await this.runs.find({ where: { status: In([RestoreStatus.Queued, RestoreStatus.Running]), updatedAt: LessThan(cutoff) }, take: 200 });
    let fixed = 0;
    for (const r of stale) {
      const job = await this.queue.jobInfo(r.id);
      const state = job?.state ?? 'unknown';
      const reason =
        state === 'failed' ? job?.failedReason || 'the job failed'
        : state === 'unknown' ? 'the job is gone from the queue'
        : state === 'completed' ? 'the job finished without recording this run'
        : undefined;
      if (!reason) continue;
      if (r.status === RestoreStatus.Running) {
        if (await this.failInterrupted(r, reason)) fixed++;
        continue;
      }
      const res = await this.runs.update({ id: r.id, status: r.status, attempts: r.attempts }, endRunUpdate(RestoreStatus.Failed, { errorMessage: reason, completedAt: new Date() }));
      if (res.affected) {
        fixed++;
        const failed = await this.runs.findOneBy({ id: r.id });
        if (failed) this.events.emit(RestoreEvents.Failed, { run: failed, actor: actorOf(failed) } satisfies RestoreEvent);
      }
    }
    return fixed;
  }

  /**
   * A backup of the destination (of just the tables to restore, for a table-level restore) before it is replaced, through the target whose own
   * database it is (the restoring target, else another configured one); for a database no target
   * reaches, through the restoring target, recorded under it with the database it holds.
   */
  private async safetyBackup(run: RestoreRun, target: ResolvedTarget, ctx: JobContext): Promise<BackupRecord | null> {
    const via = this.destinations.targetReaching(target, run.database);
    const tables = restoreTables(run);
    return via ? this.backupsService.safetyBackup(via.name, run.id, ctx, { tables }) : this.backupsService.safetyBackup(target.name, run.id, ctx, { database: run.database, tables });
  }
}

function actorOf(run: RestoreRun): Actor | undefined {
  return (run.metadata?.actor as Actor | undefined) ?? undefined;
}
