import { Injectable, Optional } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Repository } from 'typeorm';
import { BackupCopies } from '../backup/backup-copies.service.js';
import type { BackupEvent } from '../backup/backup-events.js';
import { BackupRecord, GOOD_BACKUP_STATUSES } from '../backup/entities/backup-record.entity.js';
import { findNewestGoodOfEach } from '../backup/good-backup.js';
import { BackupTotal } from '../backup/entities/backup-total.entity.js';
import { isRelayedEvent } from '../common/event-relay.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';

/**
 * Prometheus metrics on a registry of the library's own (never prom-client's global one, so a
 * host's registry is not polluted; a host may merge `registry` into its own). Catalog-derived
 * gauges are refreshed at each scrape and agree across processes; the `_total` counter and the
 * histograms count the runs this process finished.
 */
@Injectable()
export class BackupMetrics {
  readonly registry = new Registry();
  private readonly backups: Gauge<'target' | 'status'>;
  private readonly lastSuccess: Gauge<'target'>;
  private readonly lastSize: Gauge<'target'>;
  private readonly lastDuration: Gauge<'target'>;
  private readonly queueJobs: Gauge<'state'>;
  private readonly runs: Counter<'target' | 'outcome'>;
  private readonly copyFailures: Counter<'storage'>;
  private readonly degraded: Gauge<'storage'>;
  private readonly duration: Histogram<'target'>;
  private readonly size: Histogram<'target'>;

  constructor(
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    @InjectRepository(BackupTotal, CATALOG_CONNECTION) private readonly totals: Repository<BackupTotal>,
    private readonly queue: JobsQueue,
    @Optional() private readonly copies?: BackupCopies,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'backup_manager_' });
    this.backups = new Gauge({ name: 'backup_manager_backups', help: 'Backups in the catalog by target and status (soft-deleted excluded)', labelNames: ['target', 'status'], registers });
    this.lastSuccess = new Gauge({ name: 'backup_manager_last_success_timestamp_seconds', help: 'Completion time of the newest good backup per target that holds its data (full scope, schema and data)', labelNames: ['target'], registers });
    this.lastSize = new Gauge({ name: 'backup_manager_last_success_size_bytes', help: 'Artifact size of that backup', labelNames: ['target'], registers });
    this.lastDuration = new Gauge({ name: 'backup_manager_last_success_duration_seconds', help: 'Run time of that backup', labelNames: ['target'], registers });
    this.queueJobs = new Gauge({ name: 'backup_manager_queue_jobs', help: 'Jobs in the queue by state', labelNames: ['state'], registers });
    this.runs = new Counter({ name: 'backup_manager_backup_runs_total', help: 'Backup outcomes seen by this process (completed, failed, verified, corrupted)', labelNames: ['target', 'outcome'], registers });
    this.copyFailures = new Counter({
      name: 'backup_manager_copy_failures_total',
      help: 'Copies of backups a destination could not take (the backup is held elsewhere; a re-copy is queued), seen by this process',
      labelNames: ['storage'],
      registers,
    });
    this.degraded = new Gauge({
      name: 'backup_manager_degraded_backups',
      help: 'Usable backups (COMPLETED or VERIFIED, not deleted) whose copy in this destination FAILED, is MISSING or CORRUPTED: degraded until a re-copy repairs them',
      labelNames: ['storage'],
      registers,
    });
    this.duration = new Histogram({
      name: 'backup_manager_backup_duration_seconds',
      help: 'Run time of backups completed by this process',
      labelNames: ['target'],
      buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600],
      registers,
    });
    this.size = new Histogram({
      name: 'backup_manager_backup_size_bytes',
      help: 'Artifact size of backups completed by this process',
      labelNames: ['target'],
      buckets: [1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11],
      registers,
    });
  }

  @OnEvent('backup.completed')
  onCompleted(e: BackupEvent): void {
    if (isRelayedEvent(e)) return; // counted by the process that ran it
    const target = e.record.target;
    this.runs.inc({ target, outcome: 'completed' });
    if (e.record.durationMs != null) this.duration.observe({ target }, e.record.durationMs / 1000);
    if (e.record.sizeBytes != null) this.size.observe({ target }, e.record.sizeBytes);
  }

  @OnEvent('backup.failed')
  onFailed(e: BackupEvent): void {
    if (isRelayedEvent(e)) return; // counted by the process that ran it
    this.runs.inc({ target: e.record.target, outcome: 'failed' });
  }

  @OnEvent('backup.copy.failed')
  onCopyFailed(e: BackupEvent): void {
    const storage = e?.detail?.storage;
    if (typeof storage === 'string') this.copyFailures.inc({ storage });
  }

  @OnEvent('backup.verified')
  onVerified(e: BackupEvent): void {
    if (isRelayedEvent(e)) return; // counted by the process that ran it
    if (e?.record?.target) this.runs.inc({ target: e.record.target, outcome: 'verified' });
  }

  @OnEvent('backup.corrupted')
  onCorrupted(e: BackupEvent): void {
    if (isRelayedEvent(e)) return; // counted by the process that ran it
    if (e?.record?.target) this.runs.inc({ target: e.record.target, outcome: 'corrupted' });
  }

  /** The exposition text, with catalog and queue gauges refreshed first. */
  async render(): Promise<string> {
    await Promise.all([this.refreshCatalog(), this.refreshQueue(), this.refreshDegraded()]);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async refreshDegraded(): Promise<void> {
    if (!this.copies) return;
    const rows = await this.copies.lackingByStorage();
    this.degraded.reset();
    for (const r of rows) this.degraded.set({ storage: r.storage }, r.backups);
  }

  /**
   * Counts from `backup_totals` (live records per target, type and status, kept by the catalog's
   * triggers) summed over the types, and the newest good backup of each target (`findNewestGoodOfEach`:
   * a short walk of each target's list index): the cost of a scrape follows the number of
   * targets, not of records.
   */
  private async refreshCatalog(): Promise<void> {
    const [counts, newest] = await Promise.all([this.liveCounts(), this.newestGoodPerTarget()]);
    this.backups.reset();
    for (const c of counts) this.backups.set({ target: c.target, status: c.status }, Number(c.n));
    this.lastSuccess.reset();
    this.lastSize.reset();
    this.lastDuration.reset();
    for (const good of newest) {
      const target = good.target;
      this.lastSuccess.set({ target }, (good.completedAt ?? good.createdAt).getTime() / 1000);
      if (good.sizeBytes != null) this.lastSize.set({ target }, good.sizeBytes);
      if (good.durationMs != null) this.lastDuration.set({ target }, good.durationMs / 1000);
    }
  }

  /** Live records per target and status, where there are any (a totals row may hold 0). */
  private liveCounts(): Promise<Array<{ target: string; status: string; n: number | string }>> {
    // NOTE: SUM is a bigint (a string) on PostgreSQL and a decimal (a string) on MySQL.
    return this.totals
      .createQueryBuilder('c')
      .select('c.target', 'target')
      .addSelect('c.status', 'status')
      .addSelect('SUM(c.n)', 'n')
      .groupBy('c.target')
      .addGroupBy('c.status')
      .having('SUM(c.n) > 0')
      .getRawMany();
  }

  /** What `findNewestGood` answers, for every target that has a good backup (by `backup_totals`). */
  private async newestGoodPerTarget(): Promise<BackupRecord[]> {
    const rows = await this.totals
      .createQueryBuilder('c')
      .select('DISTINCT c.target', 'target')
      .where('c.status IN (:...good)', { good: [...GOOD_BACKUP_STATUSES] })
      .andWhere('c.n > 0')
      .getRawMany<{ target: string }>();
    return findNewestGoodOfEach(this.records, rows.map((r) => r.target));
  }

  private async refreshQueue(): Promise<void> {
    this.queueJobs.reset();
    try {
      const counts = await Promise.race([
        this.queue.counts(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2_000).unref()),
      ]);
      for (const [state, n] of Object.entries(counts)) this.queueJobs.set({ state }, n);
    } catch {
      // Redis unreachable: no queue gauges in this scrape (readiness reports the outage).
    }
  }
}
