import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThan, type Repository } from 'typeorm';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { JobName } from '../queue/jobs.js';
import { ArtifactCommits } from './artifact-commit.js';
import { BackupEvents, type BackupEvent } from './backup-events.js';
import { BackupRecord, BackupStatus } from './entities/backup-record.entity.js';
import { logLine } from '../common/log-line.js';

/** How often a completed backup's lost verification is queued again before it is left alone. */
export const MAX_VERIFY_REQUEUES = 3;

/**
 * Makes sure no record stays QUEUED or RUNNING after its job is gone: a job that failed for good
 * (for instance stalled too often after worker crashes) or vanished from Redis fails its record
 * (cancels it, if it was deleted).
 * And a COMPLETED backup whose verification job was lost the same way (its workers killed again
 * and again, Redis restarted) gets a new verification job, up to MAX_VERIFY_REQUEUES times.
 */
@Injectable()
export class BackupReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('BackupReconciler');
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly queue: JobsQueue,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    private readonly commits: ArtifactCommits,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.options.workers) return;
    this.timer = setInterval(() => void this.reconcile().catch((e: Error) => this.logger.warn(`reconcile failed: ${e.message}`)), this.options.queue.stalledIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** @returns how many records were moved to FAILED. */
  async reconcile(): Promise<number> {
    await this.requeueLostVerifications();
    return this.failStuck();
  }

  /**
   * Queues the verification again for COMPLETED backups whose latest verification job was lost:
   * failed for good (its workers died too often) or gone from Redis. A job that ran to its end
   * stands, whatever it decided. The job id carries the attempt number, so replicas reconciling at
   * once add one job. @returns how many were queued.
   */
  async requeueLostVerifications(): Promise<number> {
    const cutoff = new Date(Date.now() - 2 * this.options.queue.lockDurationMs);
    const unverified = await this.records.find({ where: { status: BackupStatus.Completed, completedAt: LessThan(cutoff) }, take: 200 });
    let queued = 0;
    for (const r of unverified) {
      const requeues = Number(r.metadata?.verifyRequeues ?? 0);
      if (requeues >= MAX_VERIFY_REQUEUES) continue;
      const lastJobId = requeues ? `verify-${r.id}-requeue-${requeues}` : `verify-${r.id}-after-backup`;
      const state = (await this.queue.jobInfo(lastJobId))?.state ?? 'unknown';
      if (state !== 'failed' && state !== 'unknown') continue;
      const next = requeues + 1;
      await this.queue.add(JobName.Verify, { backupId: r.id, drill: false, requestedBy: 'system:after-backup' }, `verify-${r.id}-requeue-${next}`);
      const metadata: BackupRecord['metadata'] = { ...(r.metadata ?? {}), verifyRequeues: next };
      await this.records.update({ id: r.id, status: BackupStatus.Completed }, { metadata });
      this.logger.warn(logLine('queued the lost verification of a completed backup again', { id: r.id, lastJob: lastJobId, lastJobState: state, requeue: next }));
      queued++;
    }
    return queued;
  }

  /**
   * Ends the records whose job is gone, failed for good or finished without them. Soft-deleted
   * records too: a deleted record whose job is gone ends CANCELLED (it was deleted before it
   * ran), any other FAILED with the reason; what their attempts left in storage goes.
   */
  private async failStuck(): Promise<number> {
    const cutoff = new Date(Date.now() - 2 * this.options.queue.lockDurationMs);
    const stale = await this.records.find({
      where: { status: In([BackupStatus.Queued, BackupStatus.Running]), updatedAt: LessThan(cutoff) },
      withDeleted: true,
      take: 200,
    });
    let fixed = 0;
    for (const r of stale) {
      const job = await this.queue.jobInfo(r.id);
      const state = job?.state ?? 'unknown';
      let reason: string | undefined;
      if (state === 'failed') {
        reason = job?.failedReason || 'the job failed';
        if (/stalled more than allowable limit/.test(reason)) reason = `the worker running this backup died or lost its job lock too many times, so it was given up (${reason})`;
      }
      else if (state === 'unknown') reason = 'the job is gone from the queue (was Redis flushed or restarted without persistence?)';
      else if (state === 'completed') reason = 'the job finished without committing this record';
      if (!reason) continue;
      const cancel = !!r.deletedAt;
      const { ended, record } = await this.commits.endWithout(
        r.id,
        { status: r.status, attempts: r.attempts },
        cancel
          ? { status: BackupStatus.Cancelled, errorMessage: `Cancelled: the backup was deleted before it completed (${reason})`, completedAt: new Date() }
          : { status: BackupStatus.Failed, errorMessage: reason, completedAt: new Date() },
        (err) => this.logger.warn(logLine('could not remove what a failed backup left in storage', { id: r.id, error: err.message })),
      );
      if (ended) {
        fixed++;
        this.logger.warn(logLine('reconciled a stuck backup', { id: r.id, was: r.status, now: cancel ? BackupStatus.Cancelled : BackupStatus.Failed, reason }));
        if (!cancel && record && !record.deletedAt) this.events.emit(BackupEvents.Failed, { record } satisfies BackupEvent);
      }
    }
    return fixed;
  }
}
