import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional, type OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { DomainError, ErrorCode } from '../common/errors.js';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { BackupsService } from '../backup/backups.service.js';
import type { Redis } from 'ioredis';
import { REDIS } from '../common/redis.js';
import { RestoresService } from '../restore/restores.service.js';
import { TargetsService } from '../targets/targets.service.js';
import { isRunTime, runTimeOfTick } from './cron.js';
import { cronIntervalProblem, MIN_INTERVAL_SETTING } from './cron-gap.js';
import type { Schedule } from './entities/schedule.entity.js';
import { RetentionService } from './retention.service.js';
import { SchedulerEvents, type ScheduleEvent } from './scheduler-events.js';
import { expressionOf, SchedulesService } from './schedules.service.js';

const JOB_PREFIX = 'schedule:';
const CLEANUP_JOB = 'retention-cleanup';
const DRILL_JOB = 'restore-drill';
/** How long a claim on a run lives: far longer than any two replicas can disagree on a tick. */
const CLAIM_TTL_MS = 3600_000;

/**
 * Fires the schedules in every process that runs the scheduler. Each replica registers one
 * `CronJob` per enabled schedule (through @nestjs/schedule's registry) and re-reads the catalog
 * every `syncIntervalMs`, so API changes reach every replica without a restart. A tick only
 * enqueues: the replicas race for a Redis `SET NX` claim on (schedule, run time), and only the
 * winner requests the backup, so N replicas give one backup per run. A process that was down
 * misses its ticks; nothing is back-filled (cron computes the next run from now).
 */
@Injectable()
export class ScheduleTicker implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ScheduleTicker');
  /** Why a schedule's cron is not registered (it runs more often than the minimum), by signature. */
  private readonly tooFrequent = new Map<string, string | undefined>();
  /** This process, as claims and status name it. */
  readonly instanceId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly registered = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private syncing?: Promise<void>;
  private stopped = false;
  lastSyncAt: Date | null = null;

  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    /** From the app's `ScheduleModule.forRoot()`; required only when this process runs the scheduler. */
    @Optional() @Inject(SchedulerRegistry) private readonly registry: SchedulerRegistry,
    private readonly schedules: SchedulesService,
    private readonly retention: RetentionService,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    private readonly backups: BackupsService,
    private readonly targets: TargetsService,
    // A composition without the restore module runs no drills.
    @Optional() private readonly restores?: RestoresService,
  ) {}

  onModuleInit(): void {
    if (this.enabled && !this.registry) {
      throw new Error(
        'backup-manager: the scheduler is on (`scheduler: true`) but the app does not import ScheduleModule.forRoot() from @nestjs/schedule. ' +
          'Import it once in your app module; the library uses the app\'s own instance and never starts a second one.',
      );
    }
  }

  get enabled(): boolean {
    return this.options.scheduler;
  }

  /** Ids of the schedules this process has registered. */
  get registeredIds(): string[] {
    return [...this.registered.keys()];
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    await this.schedules.ensureDefaultPlans().catch((e: Error) => this.logger.warn(`default plans: ${e.message}`));
    this.schedules.onChange = () => void this.sync();
    await this.sync();
    this.timer = setInterval(() => void this.sync(), this.schedules.settings.syncIntervalMs);
    this.timer.unref();
    const cleanupCron = this.schedules.settings.retention.cleanupCron;
    if (cleanupCron) {
      this.registry.addCronJob(
        CLEANUP_JOB,
        CronJob.from({ cronTime: cleanupCron, timeZone: this.options.timezone, start: true, threshold: 1000, onTick: () => void this.cleanupTick(cleanupCron) }),
      );
    }
    const drillCron = this.schedules.settings.drillCron;
    if (drillCron) {
      this.registry.addCronJob(
        DRILL_JOB,
        CronJob.from({ cronTime: drillCron, timeZone: this.options.timezone, start: true, threshold: 1000, onTick: () => void this.drillTick(drillCron) }),
      );
    }
    this.logger.log(`scheduler on (${this.registered.size} schedule(s), instance ${this.instanceId})`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.syncing?.catch(() => undefined);
    if (!this.registry) return;
    for (const name of [...this.registered.keys()].map((id) => JOB_PREFIX + id).concat(CLEANUP_JOB, DRILL_JOB)) {
      if (this.registry.doesExist('cron', name)) {
        await this.registry.getCronJob(name).stop();
        this.registry.deleteCronJob(name);
      }
    }
    this.registered.clear();
  }

  /** Registers, re-registers and drops cron jobs so they match the catalog. */
  sync(): Promise<void> {
    if (!this.syncing) {
      this.syncing = this.doSync()
        .catch((e: Error) => this.logger.warn(`schedule sync failed: ${e.message}`))
        .finally(() => (this.syncing = undefined));
    }
    return this.syncing;
  }

  private async doSync(): Promise<void> {
    if (this.stopped) return;
    const wanted = new Map<string, { s: Schedule; sig: string }>();
    for (const s of await this.schedules.all()) {
      if (s.enabled) wanted.set(s.id, { s, sig: `${expressionOf(s)}|${s.timezone}` });
    }
    if (this.stopped) return;
    for (const [id, sig] of this.registered) {
      if (wanted.get(id)?.sig !== sig) await this.unregister(id);
    }
    for (const [id, { s, sig }] of wanted) {
      if (this.registered.has(id)) continue;
      // A schedule stored before the minimum interval existed (or under a lower one) does not fire.
      if (!this.tooFrequent.has(sig)) {
        const problem = cronIntervalProblem(expressionOf(s), s.timezone, this.schedules.minIntervalMinutes, MIN_INTERVAL_SETTING);
        this.tooFrequent.set(sig, problem);
        if (problem) this.logger.warn(`schedule ${s.name} is not run: ${problem}`);
      }
      if (this.tooFrequent.get(sig)) continue;
      try {
        const job = CronJob.from({
          cronTime: expressionOf(s),
          timeZone: s.timezone,
          start: true,
          threshold: 1000,
          onTick: () => void this.tick(id, sig),
        });
        this.registry.addCronJob(JOB_PREFIX + id, job);
        this.registered.set(id, sig);
      } catch (e) {
        this.logger.warn(`schedule ${s.name} could not be registered: ${(e as Error).message}`);
      }
    }
    this.lastSyncAt = new Date();
    await this.heartbeat();
  }

  /** Tells the status endpoint (of any replica) that this scheduler is alive. */
  private async heartbeat(): Promise<void> {
    const key = `${this.options.queuePrefix}:scheduler:instance:${this.instanceId}`;
    const value = JSON.stringify({ instanceId: this.instanceId, lastSyncAt: this.lastSyncAt, registered: this.registered.size });
    await this.redis.set(key, value, 'PX', Math.max(3 * this.schedules.settings.syncIntervalMs, 15_000)).catch(() => undefined);
  }

  /** Scheduler replicas that synced recently (from their heartbeats). */
  async instances(): Promise<Array<{ instanceId: string; lastSyncAt: string; registered: number }>> {
    const redis = this.redis;
    const out: Array<{ instanceId: string; lastSyncAt: string; registered: number }> = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.options.queuePrefix}:scheduler:instance:*`, 'COUNT', 200);
      cursor = next;
      for (const v of keys.length ? await redis.mget(...keys) : []) if (v) out.push(JSON.parse(v));
    } while (cursor !== '0');
    return out.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  }

  private async unregister(id: string): Promise<void> {
    const name = JOB_PREFIX + id;
    if (this.registry.doesExist('cron', name)) {
      await this.registry.getCronJob(name).stop();
      this.registry.deleteCronJob(name);
    }
    this.registered.delete(id);
  }

  /** One tick of one schedule in this replica. Resolves to the backup id when this replica won the run. */
  async tick(id: string, sig: string, now = new Date()): Promise<string | undefined> {
    const [expr, tz] = sig.split('|');
    const runAt = runTimeOfTick(expr, tz, now);
    if (!runAt) return undefined;
    // The catalog decides, not this replica's registration, which may be a few seconds stale.
    const s = await this.schedules.find(id).catch(() => null);
    if (!s || !s.enabled || !isRunTime(expressionOf(s), s.timezone, runAt)) return undefined;
    if (!(await this.claim(`tick:${id}:${runAt.getTime()}`))) return undefined;
    try {
      const { record, created } = await this.schedules.requestBackup(s, { trigger: 'tick', scheduledFor: runAt, firedBy: this.instanceId });
      await this.schedules.recordRun(id, runAt, record.id, record.status, null);
      if (!created) this.logger.warn(`schedule ${s.name}: the backup of its last run (${record.id}) is still queued; no second one was queued`);
      this.events.emit(SchedulerEvents.ScheduleFired, { schedule: s, detail: { backupId: record.id, scheduledFor: runAt.toISOString(), reused: !created } } satisfies ScheduleEvent);
      return record.id;
    } catch (e) {
      const message = (e as Error).message;
      this.logger.warn(`schedule ${s.name} could not start its backup: ${message}`);
      await this.schedules.recordRun(id, runAt, null, 'FAILED', message).catch(() => undefined);
      this.events.emit(SchedulerEvents.ScheduleFailed, { schedule: s, detail: { scheduledFor: runAt.toISOString(), error: message } } satisfies ScheduleEvent);
      return undefined;
    }
  }

  private async cleanupTick(expr: string): Promise<void> {
    const runAt = runTimeOfTick(expr, this.options.timezone);
    if (!runAt || !(await this.claim(`cleanup:${runAt.getTime()}`))) return;
    try {
      const r = await this.retention.cleanup({ dryRun: false, trigger: 'cron' });
      this.logger.log(`retention cleanup: ${r.deleted.length} backup(s) deleted, ${r.freedBytes} bytes freed`);
    } catch (e) {
      if (e instanceof DomainError && e.code === ErrorCode.CleanupRunning) this.logger.warn(`retention cleanup skipped: ${e.message}`);
      else this.logger.error(`retention cleanup failed: ${(e as Error).message}`);
    }
  }

  /**
   * Queues a restore drill of the newest good backup (holding the data) of every target; one
   * replica per run. A drill of the same backup still waiting is not queued twice, and a full
   * queue refuses drills like any other request.
   */
  async drillTick(expr: string, now = new Date()): Promise<string[]> {
    const runAt = runTimeOfTick(expr, this.options.timezone, now);
    if (!runAt || !this.restores || !(await this.claim(`drill:${runAt.getTime()}`))) return [];
    const queued: string[] = [];
    for (const target of this.targets.list()) {
      try {
        const newest = await this.backups.newestGood(target.name);
        if (!newest) continue;
        await this.restores.requestVerify(newest.id, true, undefined, { requestedBy: 'schedule:drill' });
        queued.push(newest.id);
      } catch (e) {
        this.logger.warn(`could not queue the restore drill of ${target.name}: ${(e as Error).message}`);
      }
    }
    if (queued.length) this.logger.log(`restore drills queued for ${queued.length} backup(s)`);
    return queued;
  }

  /** The next scheduled restore drill, if this process schedules them. */
  nextDrillAt(): Date | null {
    if (!this.registry?.doesExist('cron', DRILL_JOB)) return null;
    return this.registry.getCronJob(DRILL_JOB).nextDate().toJSDate();
  }

  /** One replica wins each run: SET NX on a key in the queue's prefix. */
  private async claim(what: string): Promise<boolean> {
    const key = `${this.options.queuePrefix}:scheduler:claim:${what}`;
    try {
      return (await this.redis.set(key, this.instanceId, 'PX', CLAIM_TTL_MS, 'NX')) === 'OK';
    } catch (e) {
      this.logger.warn(`could not claim ${what} (Redis): ${(e as Error).message}`);
      return false;
    }
  }

  /** The next run of the timed cleanup, if this process schedules it. */
  nextCleanupAt(): Date | null {
    if (!this.registry.doesExist('cron', CLEANUP_JOB)) return null;
    return this.registry.getCronJob(CLEANUP_JOB).nextDate().toJSDate();
  }
}
