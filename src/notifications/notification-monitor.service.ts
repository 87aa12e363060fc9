import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { CronJob } from 'cron';
import type { Redis } from 'ioredis';
import { Between, type Repository } from 'typeorm';
import { BackupRecord, BackupStatus } from '../backup/entities/backup-record.entity.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { logLine } from '../common/log-line.js';
import { REDIS } from '../common/redis.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { ARTIFACT_STORAGE, type ArtifactStorage } from '../storage/storage.interface.js';
import { SystemHealthService } from '../system-info/system-health.service.js';
import { AlertsService } from './alerts.service.js';
import { ChannelsService } from './channels.service.js';
import * as m from './messages.js';

const DAY = 24 * 3600_000;

/**
 * The conditions no event reports, checked every `checkIntervalMs` in every process of the
 * module (the catalog's conditional updates make them alert once between all of them): a stale
 * target (the schedule that silently stopped), low free space, no worker while jobs wait. Also
 * sends the daily and weekly digests, one replica per run (a Redis claim).
 */
@Injectable()
export class NotificationMonitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Notifications');
  private readonly startedAt = new Date();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private crons: CronJob[] = [];
  /** When this process last saw a worker on the job queue (its start, until it sees one). */
  private workerSeenAt = new Date();
  private stopped = false;

  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    private readonly health: SystemHealthService,
    private readonly alerts: AlertsService,
    private readonly channels: ChannelsService,
    private readonly jobs: JobsQueue,
    @Inject(ARTIFACT_STORAGE) private readonly storage: ArtifactStorage,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  onApplicationBootstrap(): void {
    const n = this.options.notifications!;
    this.timer = setInterval(() => void this.check(), n.checkIntervalMs);
    this.timer.unref();
    for (const [kind, cron] of [['daily', n.digestDailyCron], ['weekly', n.digestWeeklyCron]] as const) {
      if (!cron) continue;
      this.crons.push(CronJob.from({ cronTime: cron, timeZone: this.options.timezone, start: true, threshold: 1000, onTick: () => void this.digest(kind) }));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const c of this.crons) await c.stop();
    await this.running?.catch(() => undefined);
  }

  /** One round of checks (skipped while the previous one still runs). */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.checkAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async checkAll(): Promise<void> {
    for (const [name, fn] of [
      ['target.stale', () => this.stale()],
      ['storage.low', () => this.space()],
      ['worker.missing', () => this.workers()],
    ] as const) {
      try {
        if (await this.channels.anySubscribed(name)) await fn();
      } catch (err) {
        this.logger.warn(logLine('notification check failed', { check: name, error: (err as Error).message }));
      }
    }
  }

  private async stale(): Promise<void> {
    const now = new Date();
    for (const t of this.options.targets) {
      const maxAge = this.health.maxAgeOf(t.name);
      const key = `target.stale:${t.name}`;
      if (maxAge <= 0) continue;
      // Without any good backup, the clock runs from the target's first record (or this process's
      // start). NOTE: read before the newest good one: a backup recorded between the two reads is
      // then either seen by both or by the second only, never taken for "records but none good".
      const first = await this.records.findOne({ where: { target: t.name }, order: { createdAt: 'ASC' }, withDeleted: true, select: { id: true, createdAt: true } });
      const newest = await this.health.newestGood(t.name);
      const at = newest ? (newest.completedAt ?? newest.createdAt) : null;
      if (newest && at && now.getTime() - at.getTime() <= maxAge) {
        await this.alerts.clear(key, (c) => m.targetFresh(t.name, { id: newest.id, at }, c, this.alerts.link));
        continue;
      }
      const since = first && first.createdAt < this.startedAt ? first.createdAt : this.startedAt;
      if (!newest && now.getTime() - since.getTime() <= maxAge) continue;
      await this.alerts.raise(key, m.targetStale(t.name, newest && at ? { id: newest.id, at } : null, maxAge, since, this.alerts.link, now));
    }
  }

  private async space(): Promise<void> {
    const min = this.health.monitoring.minFreeBytes;
    if (min <= 0) return;
    const { freeBytes } = await this.storage.usage();
    if (freeBytes < min) await this.alerts.raise('storage.low', m.storageLow(freeBytes, min, this.options.storageDir));
    else await this.alerts.clear('storage.low', (c) => m.storageOk(freeBytes, c));
  }

  private async workers(): Promise<void> {
    const now = new Date();
    const [workers, counts] = await Promise.all([this.jobs.workers(), this.jobs.counts()]);
    if (workers.length) {
      this.workerSeenAt = now;
      await this.alerts.clear('worker.missing', (c) => m.workerBack(c));
      return;
    }
    const waiting = counts.waiting + counts.prioritized;
    if (waiting > 0 && now.getTime() - this.workerSeenAt.getTime() >= this.options.notifications!.workerMissingMs) {
      await this.alerts.raise('worker.missing', m.workerMissing(waiting, this.workerSeenAt, now));
    }
  }

  /** The digest of the last day or week, sent by the one replica that claims this run. */
  async digest(kind: 'daily' | 'weekly', now = new Date()): Promise<void> {
    try {
      if (!(await this.channels.anySubscribed(`digest.${kind}`))) return;
      const run = Math.floor(now.getTime() / 60_000);
      const claimed = await this.redis.set(`${this.options.queuePrefix}:notify:digest:${kind}:${run}`, '1', 'PX', DAY, 'NX');
      if (claimed !== 'OK') return;
      const from = new Date(now.getTime() - (kind === 'daily' ? DAY : 7 * DAY));
      const rows: m.DigestRow[] = [];
      for (const t of this.options.targets) {
        const inPeriod = await this.records.find({
          where: { target: t.name, createdAt: Between(from, now) },
          select: { id: true, status: true, sizeBytes: true, scope: true, includeSchema: true, includeData: true, errorMessage: true, updatedAt: true, completedAt: true, metadata: true },
        });
        const good = inPeriod.filter((r) => r.status === BackupStatus.Completed || r.status === BackupStatus.Verified);
        // The failure last decided (a CORRUPTED backup fails when verified, after it was made).
        const failed = inPeriod
          .filter((r) => r.status === BackupStatus.Failed || r.status === BackupStatus.Corrupted)
          .map((r) => ({ r, at: failedAt(r) }))
          .sort((a, b) => b.at.getTime() - a.at.getTime());
        const newest = await this.health.newestGood(t.name);
        rows.push({
          target: t.name,
          lastGood: newest ? { id: newest.id, at: newest.completedAt ?? newest.createdAt, sizeBytes: newest.sizeBytes } : null,
          completed: good.length,
          failed: failed.length,
          lastFailure: failed[0] ? { at: failed[0].at, error: failed[0].r.errorMessage ?? 'no error message was recorded' } : null,
          bytes: good.reduce((a, r) => a + (r.sizeBytes ?? 0), 0),
        });
      }
      await this.alerts.inform(m.digest(kind, from, now, rows));
    } catch (err) {
      this.logger.warn(logLine('digest failed', { kind, error: (err as Error).message }));
    }
  }
}

/**
 * When a failed backup was decided to have failed, to the millisecond: a CORRUPTED one when its
 * verification ended, a FAILED one when its run ended. (`updatedAt` is kept to the second on
 * SQLite and MySQL, so two failures in one second would tie on it.)
 */
function failedAt(r: BackupRecord): Date {
  const verified = (r.metadata?.verification as { at?: unknown } | undefined)?.at;
  if (r.status === BackupStatus.Corrupted && typeof verified === 'string' && !Number.isNaN(Date.parse(verified))) return new Date(verified);
  return r.completedAt ?? r.updatedAt;
}
