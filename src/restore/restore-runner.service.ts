import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { UnrecoverableError } from 'bullmq';
import { In, IsNull, LessThan, Not, type Repository } from 'typeorm';
import type { Actor } from '../auth/roles.js';
import { BackupRunner } from '../backup/backup-runner.service.js';
import { BackupRecord } from '../backup/entities/backup-record.entity.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { EngineError } from '../common/errors.js';
import { ProcessRunner } from '../common/process-runner.js';
import { redact } from '../common/redact.js';
import { TargetLock, type TargetLockHandle } from '../common/target-lock.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { EnginesService } from '../engines/engines.service.js';
import { Restorers } from '../engines/restorers.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { JobsWorker } from '../queue/jobs-worker.service.js';
import { JobName, type JobContext } from '../queue/jobs.js';
import { ARTIFACT_STORAGE, type ArtifactStorage } from '../storage/storage.interface.js';
import { TargetsService, type ResolvedTarget } from '../targets/targets.service.js';
import { ArtifactLoader } from './artifact-loader.js';
import { endRunUpdate, RestoreRun, RestoreStatus } from './entities/restore-run.entity.js';
import { RestoreDestinations } from './restore-destinations.js';
import { RestoreEvents, type RestoreEvent } from './restore-events.js';

/**
 * Runs restore jobs: waits for the destination database's lock (shared with backups of every
 * target that reaches it), checks the destination again, takes a safety backup when it exists,
 * then streams the artifact through the checksum gate and decompressor into the engine's restorer.
 * A run never stays RUNNING: failures are recorded, and a reconciler fails runs whose job is gone.
 */
@Injectable()
export class RestoreRunner implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('RestoreRunner');
  private readonly locks: TargetLock;
  private readonly restorers: Restorers;
  private readonly loader: ArtifactLoader;
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectRepository(RestoreRun, CATALOG_CONNECTION) private readonly runs: Repository<RestoreRun>,
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly backups: Repository<BackupRecord>,
    @Inject(ARTIFACT_STORAGE) storage: ArtifactStorage,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly targets: TargetsService,
    engines: EnginesService,
    runner: ProcessRunner,
    private readonly worker: JobsWorker,
    private readonly queue: JobsQueue,
    private readonly events: EventEmitter2,
    private readonly moduleRef: ModuleRef,
    private readonly destinations: RestoreDestinations,
  ) {
    this.locks = new TargetLock(queue.connection, options.queuePrefix, options.queue.lockDurationMs);
    this.restorers = new Restorers(engines, runner, options);
    this.loader = new ArtifactLoader(storage, runner, options);
  }

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
    if (!initial) throw new UnrecoverableError(`Restore run ${runId} does not exist`);
    if ([RestoreStatus.Completed, RestoreStatus.Failed].includes(initial.status)) return { skipped: `run is ${initial.status}` };

    let lock: TargetLockHandle | undefined;
    let lockError: Error | undefined;
    try {
      // One lock per physical database, whichever target name reaches it (shared with backups).
      const key = this.targets.keyOf(this.targets.get(initial.target), initial.database);
      lock = await this.locks.acquire(key, `restore:${initial.id}`, { waitMs: this.options.dump.timeoutMs, signal: ctx.signal });
    } catch (err) {
      lockError = new EngineError(`could not take the target lock: ${(err as Error).message}`, false);
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
      { id: initial.id, attempts: initial.attempts, status: In([RestoreStatus.Queued, RestoreStatus.Running]) },
      { status: RestoreStatus.Running, attempts: attempt, startedAt: new Date(), errorMessage: null },
    );
    if (!claimed.affected) return { skipped: 'another attempt claimed the run' };
    const started = Date.now();
    const run = await this.runs.findOneByOrFail({ id: initial.id });
    this.events.emit(RestoreEvents.Started, { run, actor: actorOf(run) } satisfies RestoreEvent);
    let target: ResolvedTarget | undefined;
    let created = false;
    try {
      if (lockError || !lock) throw lockError ?? new EngineError('could not take the target lock', false);
      const signal = AbortSignal.any([ctx.signal, lock.signal]);
      const backup = await this.backups.findOne({ where: { id: run.backupId }, withDeleted: true });
      if (!backup || backup.deletedAt) throw new EngineError(`backup ${run.backupId} no longer exists or was deleted`, false);
      target = await this.targets.resolve(run.target).catch((err: Error) => {
        throw new EngineError(err.message, false);
      });
      const restorer = this.restorers.for(target.engine);
      this.logger.log({ msg: 'restore started', id: run.id, backup: backup.id, target: run.target, database: run.database, attempt });

      // Checked again under the lock: a database absent at request time may exist by now.
      const destination = await this.destinations.check(target, run.database, 'run').catch((err: Error) => {
        throw new EngineError(err.message, false);
      });
      const exists = destination.kind === 'own' || (destination.kind === 'allowed' && (await restorer.databaseExists(target, run.database)));
      if (!exists) {
        await restorer.createDatabase(target, run.database);
        created = true;
      } else if (run.safetyBackup) {
        const safety = await this.safetyBackup(run, target, { ...ctx, signal }).catch((err: Error) => {
          throw new EngineError(`the safety backup failed, so nothing was restored: ${err.message}`, false);
        });
        await this.runs.update({ id: run.id }, { safetyBackupId: safety.id });
      }

      await this.loader.restore(backup, target, restorer, { database: run.database, dropExisting: run.dropExisting, signal });
      if (!(await ctx.stillOwned())) this.logger.warn({ msg: 'restore finished after its job lock was lost', id: run.id });
      const completedAt = new Date();
      const result = endRunUpdate(RestoreStatus.Completed, {
        completedAt,
        durationMs: completedAt.getTime() - started,
        errorMessage: null,
        metadata: { ...(run.metadata ?? {}), createdDatabase: created, checksum: backup.checksum },
      });
      await this.runs.update({ id: run.id, attempts: attempt }, result);
      const done = await this.runs.findOneByOrFail({ id: run.id });
      this.logger.log({ msg: 'restore completed', id: run.id, target: run.target, database: run.database, durationMs: done.durationMs });
      this.events.emit(RestoreEvents.Completed, { run: done, actor: actorOf(done) } satisfies RestoreEvent);
      return { status: RestoreStatus.Completed };
    } catch (err) {
      if (created && target) {
        await this.restorers
          .for(target.engine)
          .dropDatabase(target, run.database)
          .catch((e: Error) => this.logger.warn({ msg: 'could not drop the database created for a failed restore', id: run.id, error: e.message }));
      }
      const message = redact((err as Error).message || String(err), this.targets.secretsOf(target));
      const completedAt = new Date();
      await this.runs.update(
        { id: run.id, attempts: attempt },
        endRunUpdate(RestoreStatus.Failed, { errorMessage: message, completedAt, durationMs: completedAt.getTime() - started }),
      );
      this.logger.warn({ msg: 'restore failed', id: run.id, target: run.target, database: run.database, error: message });
      const failed = await this.runs.findOneBy({ id: run.id });
      if (failed) this.events.emit(RestoreEvents.Failed, { run: failed, actor: actorOf(failed) } satisfies RestoreEvent);
      throw new UnrecoverableError(message);
    }
  }

  /**
   * Fails runs left QUEUED or RUNNING whose job failed or vanished (e.g. a worker crash), and
   * frees the destination of any ended run that still holds it (`activeKey`).
   */
  async reconcile(): Promise<number> {
    await this.runs.update({ activeKey: Not(IsNull()), status: Not(In([RestoreStatus.Queued, RestoreStatus.Running])) }, { activeKey: null });
    const cutoff = new Date(Date.now() - 2 * this.options.queue.lockDurationMs);
    const stale = await this.runs.find({ where: { status: In([RestoreStatus.Queued, RestoreStatus.Running]), updatedAt: LessThan(cutoff) }, take: 200 });
    let fixed = 0;
    for (const r of stale) {
      const job = await this.queue.queue.getJob(r.id);
      const state = job ? await job.getState() : 'unknown';
      const reason =
        state === 'failed' ? job?.failedReason || 'the job failed'
        : state === 'unknown' ? 'the job is gone from the queue'
        : state === 'completed' ? 'the job finished without recording this run'
        : undefined;
      if (!reason) continue;
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
   * A full backup of the destination before it is replaced, through the target whose own
   * database it is (the restoring target, else another configured one); for a database no target
   * reaches, through the restoring target, recorded under it with the database it holds.
   */
  private async safetyBackup(run: RestoreRun, target: ResolvedTarget, ctx: JobContext): Promise<BackupRecord> {
    const via = this.destinations.targetReaching(target, run.database);
    return via ? this.backupRunner().safetyBackup(via.name, run.id, ctx) : this.backupRunner().safetyBackup(target.name, run.id, ctx, { database: run.database });
  }

  // NOTE: the backup module exports only its service facade; the runner is looked up app-wide.
  private backupRunner(): BackupRunner {
    return this.moduleRef.get(BackupRunner, { strict: false });
  }
}

function actorOf(run: RestoreRun): Actor | undefined {
  return (run.metadata?.actor as Actor | undefined) ?? undefined;
}
