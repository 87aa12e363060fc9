import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { isRelayedEvent } from '../common/event-relay.js';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { Actor } from '../auth/roles.js';
import { BackupEvents, type BackupEvent } from '../backup/backup-events.js';
import { BackupsService } from '../backup/backups.service.js';
import { BackupRecord } from '../backup/entities/backup-record.entity.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { BACKUP_MANAGER_OPTIONS, defaultSchedulerOptions, type BackupManagerOptions, type RetentionPolicy } from '../config/options.js';
import { TargetsService } from '../targets/targets.service.js';
import { planRetention, type RetentionCandidate, type RetentionDecision } from './retention/retention-policy.js';
import { SchedulerEvents } from './scheduler-events.js';

export interface CleanupResult {
  dryRun: boolean;
  target: string | null;
  /** What was (or, in a dry run, would be) deleted. */
  deleted: RetentionDecision[];
  /** Backups the plan named that could not be deleted (pinned or started meanwhile...). */
  skipped: Array<{ id: string; reason: string }>;
  kept: number;
  freedBytes: number;
  startedAt: Date;
  finishedAt: Date;
}

/** Applies the retention policies to the catalog: plan, dry run, cleanup, expiresAt. */
@Injectable()
export class RetentionService {
  private readonly logger = new Logger('RetentionService');
  lastCleanup: Omit<CleanupResult, 'deleted'> & { deleted: number; trigger: string } | null = null;

  constructor(
    // NOTE: read-only use of the records, plus the retention columns (expiresAt, pinned); deletes go through BackupsService.
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly backups: BackupsService,
    private readonly targets: TargetsService,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
  ) {}

  private get settings() {
    return (this.options.schedules ?? defaultSchedulerOptions()).retention;
  }

  policies(): { defaultPolicy: string; timezone: string; cleanupCron: string | null; policies: RetentionPolicy[] } {
    return { defaultPolicy: this.settings.defaultPolicy, timezone: this.options.timezone, cleanupCron: this.settings.cleanupCron || null, policies: this.settings.policies };
  }

  /** The retention plan for the catalog as it is now (one target, or all). */
  async plan(target?: string, now = new Date()) {
    if (target) this.targets.get(target);
    const rows = await this.records.find({ where: target ? { target } : {} });
    const candidates: RetentionCandidate[] = rows.map((r) => ({
      id: r.id,
      target: r.target,
      type: r.type,
      status: r.status,
      scope: r.scope,
      includeSchema: r.includeSchema,
      includeData: r.includeData,
      createdAt: r.createdAt,
      pinned: r.pinned,
      sizeBytes: r.sizeBytes,
      retentionDays: r.retentionDays,
      startedAt: r.startedAt,
      policy: typeof r.metadata?.retentionPolicy === 'string' ? r.metadata.retentionPolicy : null,
    }));
    const plan = planRetention(candidates, this.settings.policies, { now, timezone: this.options.timezone, defaultPolicy: this.settings.defaultPolicy });
    return { plan, rows: new Map(rows.map((r) => [r.id, r])) };
  }

  /**
   * Deletes (files and manifests, then soft-deletes the records) what the policies let go, and
   * writes each kept record's `expiresAt`. A dry run only reports; the real run deletes exactly
   * what a dry run at the same moment would list (minus what became pinned or busy meanwhile).
   */
  async cleanup(req: { dryRun?: boolean; target?: string; trigger?: string }, actor?: Actor): Promise<CleanupResult> {
    const startedAt = new Date();
    const dryRun = req.dryRun ?? false;
    const { plan, rows } = await this.plan(req.target, startedAt);
    const deleted: RetentionDecision[] = [];
    const skipped: Array<{ id: string; reason: string }> = [];
    if (dryRun) {
      deleted.push(...plan.delete);
    } else {
      for (const d of plan.delete) {
        try {
          await this.backups.delete(d.id, true, actor);
          deleted.push(d);
        } catch (e) {
          skipped.push({ id: d.id, reason: (e as Error).message });
        }
      }
      await this.writeExpiry(plan.keep, rows);
    }
    const result: CleanupResult = {
      dryRun,
      target: req.target ?? null,
      deleted,
      skipped,
      kept: plan.keep.length,
      freedBytes: deleted.reduce((sum, d) => sum + (d.sizeBytes ?? 0), 0),
      startedAt,
      finishedAt: new Date(),
    };
    if (!dryRun) this.lastCleanup = { ...result, deleted: deleted.length, trigger: req.trigger ?? 'api' };
    this.events.emit(SchedulerEvents.RetentionCleanup, {
      actor,
      policy: { id: this.settings.defaultPolicy },
      detail: { dryRun, target: req.target ?? null, trigger: req.trigger ?? 'api', deleted: deleted.map((d) => d.id), skipped, freedBytes: result.freedBytes },
    });
    if (!dryRun && deleted.length) this.logger.log(`retention deleted ${deleted.length} backup(s), ${result.freedBytes} bytes`);
    return result;
  }

  /** Sets `expiresAt` on a target's records from its policy as soon as a backup of it completes. */
  @OnEvent(BackupEvents.Completed, { async: true, suppressErrors: true })
  async onBackupCompleted(event: BackupEvent): Promise<void> {
    if (isRelayedEvent(event)) return; // planned by the process where it completed
    try {
      const { plan, rows } = await this.plan(event.record.target);
      await this.writeExpiry(plan.keep, rows);
    } catch (e) {
      this.logger.warn(`could not set expiresAt for ${event.record.target}: ${(e as Error).message}`);
    }
  }

  private async writeExpiry(keep: RetentionDecision[], rows: Map<string, BackupRecord>): Promise<void> {
    for (const k of keep) {
      const was = rows.get(k.id)?.expiresAt?.getTime() ?? null;
      if (was !== (k.expiresAt?.getTime() ?? null) && (k.expiresAt || !rows.get(k.id)?.retentionDays)) {
        await this.records.update({ id: k.id }, { expiresAt: k.expiresAt });
      }
    }
  }
}
