import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { In, IsNull, type Repository } from 'typeorm';
import type { BackupEvent } from '../backup/backup-events.js';
import { BackupRecord, BackupStatus, VERIFIABLE_BACKUP_STATUSES } from '../backup/entities/backup-record.entity.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { redact } from '../common/redact.js';
import { TargetLock, type TargetLockHandle } from '../common/target-lock.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { Restorers } from '../engines/restorers.js';
import { canonicalTableKey } from '../engines/table-names.js';
import { JobsWorker } from '../queue/jobs-worker.service.js';
import { JobInterruptedError, JobName, type JobContext, type JobPayloads } from '../queue/jobs.js';
import { TargetsService, type ResolvedTarget } from '../targets/targets.service.js';
import { ArtifactLoader } from './artifact-loader.js';
import { VerifyEvents } from './restore-events.js';
import { ScratchDatabases } from './scratch-databases.js';
import { logLine } from '../common/log-line.js';

/** What a verification found; stored in `metadata.verification` (and `metadata.drill` for drills). */
export interface VerificationResult {
  kind: 'basic' | 'drill';
  ok: boolean;
  at: string;
  durationMs: number;
  reason?: string;
  sizeBytes?: number;
  rawBytes?: number;
  tables?: number;
  rows?: number;
  differences?: string[];
  requestedBy?: string;
  /** Encrypted backups: whether the check decrypted the artifact, or (no identity here) only checked its ciphertext. */
  decrypted?: boolean;
  /**
   * The check could not run here (a drill of an encrypted backup with no identity for it): says
   * nothing about the backup, whose status stays as it was; `reason` names the identity needed.
   */
  inconclusive?: boolean;
}

/**
 * Verifies backups. Basic: the artifact exists, has its size and SHA-256, and decompresses to
 * the end (an encrypted one: decrypted too where an identity for it is configured, else its
 * ciphertext's SHA-256 and age header). Drill: restores it into a throwaway database on the target's server, compares the
 * table list and exact row counts with `metadata.tableRows` captured at backup time, and drops
 * the database. The outcome is the record's status: VERIFIED (with `verifiedAt`) or CORRUPTED
 * (with the reason in `errorMessage`). Failures of the infrastructure (server unreachable) fail
 * the job and leave the record as it was; a check cut short by a shutdown leaves it as it was and
 * queues the job again.
 *
 * Verifications of one backup run one at a time, in every worker process: each holds the
 * backup's `verify` lock (`TargetLock.scope('verify')`) from reading the record to writing its
 * outcome, and a later one waits for it. Without that, a slow drill that read the artifact while
 * it was good could finish after a later check found it damaged and overwrite CORRUPTED with a
 * stale VERIFIED. The outcome is written only while the backup is verifiable and not deleted.
 */
@Injectable()
export class Verifier implements OnModuleInit {
  private readonly logger = new Logger('Verifier');
  /** One lock per backup id, shared by every worker process. */
  private readonly locks: TargetLock;

  constructor(
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    private readonly targets: TargetsService,
    private readonly restorers: Restorers,
    private readonly loader: ArtifactLoader,
    private readonly worker: JobsWorker,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    private readonly scratch: ScratchDatabases,
    locks: TargetLock,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
  ) {
    this.locks = locks.scope('verify');
  }

  onModuleInit(): void {
    this.worker.register(JobName.Verify, (data, ctx) => this.run(data, ctx));
  }

  async run(data: JobPayloads[JobName.Verify], ctx: JobContext): Promise<VerificationResult | { skipped: string }> {
    const lock = await this.waitForLock(data, ctx);
    try {
      return await this.runLocked(data, ctx, lock);
    } finally {
      await lock.release();
    }
  }

  /**
   * Waits for the backup's verify lock (up to the dump timeout: a drill is a restore), saying in
   * the job's progress whose verification it waits for. A shutdown while waiting queues the job
   * again: a request made while another verification ran is never dropped.
   */
  private async waitForLock(data: JobPayloads[JobName.Verify], ctx: JobContext): Promise<TargetLockHandle> {
    const holder = `${data.drill ? 'drill' : 'verify'}:${data.backupId}`;
    const free = await this.locks.tryAcquire(data.backupId, holder);
    if (free) return free;
    await ctx.updateProgress({ waitingFor: (await this.locks.holder(data.backupId)) ?? 'another verification' });
    try {
      const lock = await this.locks.acquire(data.backupId, holder, { waitMs: this.options.dump.timeoutMs, signal: ctx.signal });
      await ctx.updateProgress({ waitingFor: null });
      return lock;
    } catch (err) {
      if (ctx.signal.aborted) throw new JobInterruptedError(`the verification of backup ${data.backupId} was stopped by a shutdown while it waited for another verification of the backup`);
      throw err;
    }
  }

  private async runLocked(data: JobPayloads[JobName.Verify], ctx: JobContext, lock: TargetLockHandle): Promise<VerificationResult | { skipped: string }> {
    // Read under the lock: what an earlier verification of this backup wrote is seen here.
    const record = await this.records.findOne({ where: { id: data.backupId }, withDeleted: true });
    if (!record || record.deletedAt) return { skipped: 'the backup is gone' };
    if (!VERIFIABLE_BACKUP_STATUSES.includes(record.status)) return { skipped: `the backup is ${record.status}` };
    const signal = AbortSignal.any([ctx.signal, lock.signal]);
    const started = Date.now();
    const basic = await this.loader.check(record, signal);
    if (!basic.ok) this.throwIfCutShort(record, ctx, lock, basic.reason);
    let result: VerificationResult = { kind: 'basic', ...basic, at: new Date().toISOString(), durationMs: Date.now() - started, requestedBy: data.requestedBy };
    if (basic.ok && data.drill) {
      if (record.encrypted) {
        try {
          this.loader.keysFor(record);
        } catch (err) {
          // Nothing here opens it: a missing key says nothing about the backup.
          const inconclusive: VerificationResult = { kind: 'drill', ok: false, inconclusive: true, reason: `drill not run: ${(err as Error).message}`, at: new Date().toISOString(), durationMs: Date.now() - started, requestedBy: data.requestedBy };
          return (await this.record(record, inconclusive, lock)) ?? inconclusive;
        }
      }
      const drill = await this.drill(record, signal);
      if (!drill.ok) this.throwIfCutShort(record, ctx, lock, drill.reason);
      result = { ...drill, sizeBytes: basic.sizeBytes, rawBytes: basic.rawBytes, durationMs: Date.now() - started, requestedBy: data.requestedBy, ...(record.encrypted ? { decrypted: true } : {}) };
    }
    return (await this.record(record, result, lock)) ?? result;
  }

  /**
   * A check cut short by a shutdown says nothing about the backup: its status stays as it was and
   * the job goes back to the queue for another worker. One cut short because its lock was lost
   * (another verification may run now) fails, leaving the record as it was.
   */
  private throwIfCutShort(record: BackupRecord, ctx: JobContext, lock: TargetLockHandle, reason: string | undefined): void {
    if (ctx.signal.aborted) throw new JobInterruptedError(`the verification of backup ${record.id} was cut short by a shutdown (${reason ?? 'aborted'}); it says nothing about the backup`);
    if (lock.signal.aborted) throw this.lockLost(record, lock);
  }

  private lockLost(record: BackupRecord, lock: TargetLockHandle): Error {
    const why = lock.signal.reason instanceof Error ? lock.signal.reason.message : String(lock.signal.reason);
    return new Error(`the verification of backup ${record.id} lost its lock (${why}); nothing was recorded`);
  }

  private async drill(record: BackupRecord, signal: AbortSignal): Promise<VerificationResult> {
    const base = { kind: 'drill' as const, at: new Date().toISOString(), durationMs: 0 };
    const target: ResolvedTarget = await this.targets.resolve(record.target);
    const restorer = this.restorers.for(target.engine);
    const scratch = `bm_drill_${randomBytes(6).toString('hex')}`;
    const lease = await this.scratch.claim(target, scratch);
    // An error here is the server's, not the backup's: the job fails.
    await restorer.createDatabase(target, scratch).catch(async (err: unknown) => {
      await lease.release(false);
      throw err;
    });
    try {
      try {
        await this.loader.restore(record, target, restorer, { database: scratch, dropExisting: false, signal, scratch: this.scratch });
      } catch (err) {
        if (!(await lease.held())) throw new Error(`the drill database ${scratch} was given up while in use (this worker was stopped too long): ${(err as Error).message}`);
        return { ...base, ok: false, reason: `drill: the backup does not restore: ${redact((err as Error).message, this.targets.secretsOf(target))}` };
      }
      const actual = await restorer.tableRows(target, scratch);
      // Records made before names were canonical hold keys such as `Odd Table`: read them the same way.
      const recorded = record.metadata?.tableRows as Record<string, number> | undefined;
      const expected = recorded && Object.fromEntries(Object.entries(recorded).map(([t, n]) => [canonicalTableKey(target.engine, t), n]));
      const rows = Object.values(actual).reduce((a, b) => a + b, 0);
      const differences: string[] = [];
      if (expected) {
        for (const [t, n] of Object.entries(expected)) {
          if (!(t in actual)) differences.push(`table ${t} is missing`);
          else if (actual[t] !== n) differences.push(`table ${t} has ${actual[t]} rows, ${n} at backup time`);
        }
        for (const t of Object.keys(actual)) if (!(t in expected)) differences.push(`table ${t} was not in the backup`);
      } else if ((record.tableCount ?? 0) > 0 && Object.keys(actual).length === 0) {
        differences.push(`no tables were restored, ${record.tableCount} at backup time`);
      }
      const tables = Object.keys(actual).length;
      if (differences.length) {
        const shown = differences.slice(0, 5).join('; ') + (differences.length > 5 ? `; and ${differences.length - 5} more` : '');
        return { ...base, ok: false, tables, rows, differences, reason: `drill: the restored copy differs from the backup: ${shown}` };
      }
      return { ...base, ok: true, tables, rows, ...(expected ? {} : { reason: 'no row counts were captured at backup time; only the restore itself was checked' }) };
    } finally {
      const dropped = await restorer.dropDatabase(target, scratch).then(
        () => true,
        (e: Error) => {
          this.logger.warn(logLine('could not drop a drill database; the scratch janitor will', { database: scratch, error: e.message }));
          return false;
        },
      );
      await lease.release(dropped).catch(() => undefined);
    }
  }

  /**
   * Writes the outcome, only while the backup is still verifiable and not deleted, and tells
   * about it. @returns why nothing was written, or undefined once it was.
   */
  private async record(record: BackupRecord, result: VerificationResult, lock: TargetLockHandle): Promise<{ skipped: string } | undefined> {
    if (lock.signal.aborted) throw this.lockLost(record, lock);
    const now = new Date();
    const where = { id: record.id, status: In(VERIFIABLE_BACKUP_STATUSES), deletedAt: IsNull() };
    const metadata = { ...(record.metadata ?? {}), verification: result, ...(result.kind === 'drill' ? { drill: result } : {}) };
    if (result.inconclusive) {
      // The status and the last drill's result stay; the attempt is recorded beside them.
      const patch: Partial<BackupRecord> = { metadata: { ...(record.metadata ?? {}), verification: result } };
      const res = await this.records.update(where, patch);
      if (!res.affected) return this.notRecorded(record.id);
      this.logger.warn(logLine('verification not run', { id: record.id, kind: result.kind, reason: result.reason }));
      return undefined;
    }
    const patch: Partial<BackupRecord> = result.ok
      ? { status: BackupStatus.Verified, verifiedAt: now, errorMessage: null, metadata }
      : { status: BackupStatus.Corrupted, errorMessage: result.reason ?? 'verification failed', metadata };
    const res = await this.records.update(where, patch);
    if (!res.affected) return this.notRecorded(record.id);
    const updated = await this.records.findOne({ where: { id: record.id }, withDeleted: true });
    if (!updated) return this.notRecorded(record.id);
    this.logger.log(logLine(result.ok ? 'backup verified' : 'backup corrupted', { id: record.id, kind: result.kind, reason: result.reason }));
    this.events.emit(result.ok ? VerifyEvents.Verified : VerifyEvents.Corrupted, { record: updated, detail: { ...result } } satisfies BackupEvent);
    return undefined;
  }

  /** The backup was deleted (or left the verifiable states) while it was checked. */
  private async notRecorded(id: string): Promise<{ skipped: string }> {
    const now = await this.records.findOne({ where: { id }, withDeleted: true });
    const why = !now || now.deletedAt ? 'the backup was deleted while it was verified' : `the backup became ${now.status} while it was verified`;
    this.logger.log(logLine('verification not recorded', { id, reason: why }));
    return { skipped: `${why}; nothing was recorded` };
  }
}
