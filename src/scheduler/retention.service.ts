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
import { DomainError, ErrorCode } from '../common/errors.js';
import { TargetLock } from '../common/target-lock.js';
import { planRetention, type RetentionCandidate, type RetentionDecision, type RetentionPlan } from './retention/retention-policy.js';

/** Records read, and expiry dates written, per catalog round trip. */
const PAGE = 500;

/** Backups a cleanup deletes per catalog read and update. */
const DELETE_BATCH = 100;

/** The columns retention reads (besides `id`, and `metadata` when it names a policy). */
const COLUMNS = ['target', 'type', 'status', 'scope', 'includeSchema', 'includeData', 'createdAt', 'pinned', 'sizeBytes', 'retentionDays', 'startedAt', 'expiresAt'];

/** What `writeExpiry` compares a kept record's new `expiresAt` against. */
interface Current {
  expiresAt: number | null;
  retentionDays: number | null;
}
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
  /** One cleanup at a time across every process on this Redis (`<prefix>:cleanup-lock:retention`). */
  private readonly locks: TargetLock;

  constructor(
    // NOTE: read-only use of the records, plus the retention columns (expiresAt, pinned); deletes go through BackupsService.
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly backups: BackupsService,
    private readonly targets: TargetsService,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    locks: TargetLock,
  ) {
    this.locks = locks.scope('cleanup');
  }

  private get settings() {
    return (this.options.schedules ?? defaultSchedulerOptions()).retention;
  }

  policies(): { defaultPolicy: string; timezone: string; cleanupCron: string | null; policies: RetentionPolicy[] } {
    return { defaultPolicy: this.settings.defaultPolicy, timezone: this.options.timezone, cleanupCron: this.settings.cleanupCron || null, policies: this.settings.policies };
  }

  /**
   * The retention plan of one target as the catalog holds it now: read a page at a time, only
   * the columns the policies look at (a record's metadata only when it names a policy), in the
   * target's list index. `current` has each record's `expiresAt` and own retention, which
   * `writeExpiry` compares against. With `newest`, only that many of the newest records are read
   * (see `onBackupCompleted`); `complete` says whether that was all of them, else `oldestAt` is
   * the creation time of the oldest record read.
   */
  async plan(target: string, now = new Date(), newest?: number): Promise<{ plan: RetentionPlan; current: Map<string, Current>; complete: boolean; oldestAt: number | null }> {
    const candidates: RetentionCandidate[] = [];
    const current = new Map<string, Current>();
    let complete = true;
    for await (const rows of this.candidatePages(target)) {
      for (const { candidate, expiresAt } of rows) {
        candidates.push(candidate);
        current.set(candidate.id, { expiresAt, retentionDays: candidate.retentionDays });
      }
      if (newest !== undefined && candidates.length >= newest) {
        complete = false;
        break;
      }
    }
    const plan = planRetention(candidates, this.settings.policies, { now, timezone: this.options.timezone, defaultPolicy: this.settings.defaultPolicy });
    return { plan, current, complete, oldestAt: candidates.length ? candidates[candidates.length - 1].createdAt.getTime() : null };
  }

  /** The targets that have records (not soft-deleted), configured or not any more. */
  private async targetsInCatalog(): Promise<string[]> {
    const rows = await this.records.createQueryBuilder('b').select('DISTINCT b.target', 'target').orderBy('b.target').getRawMany<{ target: string }>();
    return rows.map((r) => r.target);
  }

  /** A target's records as retention candidates, newest first, `PAGE` at a time (keyset on `createdAt`, `id`). */
  private async *candidatePages(target: string): AsyncGenerator<Array<{ candidate: RetentionCandidate; expiresAt: number | null }>> {
    const meta = this.records.metadata;
    const driver = this.records.manager.connection.driver;
    const hydrate = (prop: string, v: unknown) => (v === null || v === undefined ? null : driver.prepareHydratedValue(v, meta.findColumnWithPropertyName(prop)!));
    const date = (prop: string, v: unknown): Date | null => {
      const d = hydrate(prop, v);
      return d instanceof Date ? d : d === null ? null : new Date(d as string);
    };
    let after: { createdAt: unknown; id: string } | undefined;
    for (;;) {
      const qb = this.records.createQueryBuilder('b').select('b.id', 'id');
      for (const c of COLUMNS) qb.addSelect(`b.${c}`, c);
      qb
        // Only a record that names its policy brings its metadata along.
        .addSelect(`CASE WHEN b.metadata LIKE :policyKey THEN b.metadata END`, 'policyMeta')
        .setParameter('policyKey', '%"retentionPolicy"%')
        .where('b.target = :target', { target })
        .orderBy('b.createdAt', 'DESC')
        .addOrderBy('b.id', 'DESC')
        .limit(PAGE);
      if (after) qb.andWhere('b.createdAt <= :afterAt AND (b.createdAt < :afterAt OR b.id < :afterId)', { afterAt: after.createdAt, afterId: after.id });
      const rows = await qb.getRawMany<Record<string, unknown>>();
      if (!rows.length) return;
      yield rows.map((r) => {
        let policy: string | null = null;
        if (typeof r.policyMeta === 'string') {
          try {
            const m = JSON.parse(r.policyMeta) as { retentionPolicy?: unknown };
            if (typeof m.retentionPolicy === 'string') policy = m.retentionPolicy;
          } catch {
            /* unreadable metadata: the default policy */
          }
        }
        const size = hydrate('sizeBytes', r.sizeBytes);
        const days = hydrate('retentionDays', r.retentionDays);
        return {
          candidate: {
            id: String(r.id),
            target: String(r.target),
            type: String(r.type),
            status: String(r.status),
            scope: String(r.scope),
            includeSchema: !!hydrate('includeSchema', r.includeSchema),
            includeData: !!hydrate('includeData', r.includeData),
            createdAt: date('createdAt', r.createdAt)!,
            pinned: !!hydrate('pinned', r.pinned),
            sizeBytes: size === null ? null : Number(size),
            retentionDays: days === null ? null : Number(days),
            startedAt: date('startedAt', r.startedAt),
            policy,
          },
          expiresAt: date('expiresAt', r.expiresAt)?.getTime() ?? null,
        };
      });
      if (rows.length < PAGE) return;
      const last = rows[rows.length - 1];
      after = { createdAt: last.createdAt, id: String(last.id) };
    }
  }

  /**
   * Deletes (files and manifests, then soft-deletes the records) what the policies let go, and
   * writes each kept record's `expiresAt`. A dry run only reports; the real run deletes exactly
   * what a dry run at the same moment would list (minus what became pinned or busy meanwhile).
   * Plans one target at a time. `now`: the instant the policies are applied as of (default: now).
   */
  async cleanup(req: { dryRun?: boolean; target?: string; trigger?: string; now?: Date }, actor?: Actor): Promise<CleanupResult> {
    if (req.dryRun) return this.cleanupLocked(req, actor);
    if (req.target) this.targets.get(req.target);
    // Two cleanups at once would plan from the same records and race to delete them.
    const trigger = req.trigger ?? 'api';
    const lock = await this.locks.tryAcquire('retention', `${trigger}:${new Date().toISOString()}`);
    if (!lock) {
      const holder = await this.locks.holder('retention');
      const [by, ...at] = (holder ?? '').split(':');
      const since = holder ? ` (started by ${by} at ${at.join(':')})` : '';
      throw new DomainError(ErrorCode.CleanupRunning, `A retention cleanup is already running${since}; ask again when it has ended, or use dryRun to see what it will delete`);
    }
    try {
      return await this.cleanupLocked(req, actor);
    } finally {
      await lock.release();
    }
  }

  private async cleanupLocked(req: { dryRun?: boolean; target?: string; trigger?: string; now?: Date }, actor?: Actor): Promise<CleanupResult> {
    const startedAt = new Date();
    const asOf = req.now ?? startedAt;
    const dryRun = req.dryRun ?? false;
    if (req.target) this.targets.get(req.target);
    const deleted: RetentionDecision[] = [];
    const skipped: Array<{ id: string; reason: string }> = [];
    let kept = 0;
    // One target at a time: its plan, its deletions, its expiry dates; then the next.
    for (const target of req.target ? [req.target] : await this.targetsInCatalog()) {
      const { plan, current } = await this.plan(target, asOf);
      kept += plan.keep.length;
      if (dryRun) {
        deleted.push(...plan.delete);
        continue;
      }
      for (let i = 0; i < plan.delete.length; i += DELETE_BATCH) {
        const batch = plan.delete.slice(i, i + DELETE_BATCH);
        const done = await this.backups.deleteSettled(batch.map((d) => d.id), actor);
        const ok = new Set(done.deleted);
        deleted.push(...batch.filter((d) => ok.has(d.id)));
        skipped.push(...done.skipped);
      }
      await this.writeExpiry(plan.keep, current);
    }
    const result: CleanupResult = {
      dryRun,
      target: req.target ?? null,
      deleted,
      skipped,
      kept,
      freedBytes: deleted.reduce((sum, d) => sum + (d.sizeBytes ?? 0), 0),
      startedAt,
      finishedAt: new Date(),
    };
    if (!dryRun) this.lastCleanup = { ...result, deleted: deleted.length, trigger: req.trigger ?? 'api' };
    this.events.emit(SchedulerEvents.RetentionCleanup, {
      actor,
      policy: { id: this.settings.defaultPolicy },
      detail: { dryRun, target: req.target ?? null, trigger: req.trigger ?? 'api', deleted: deleted.map((d) => d.id), deletedCount: deleted.length, skipped, freedBytes: result.freedBytes },
    });
    if (!dryRun && deleted.length) this.logger.log(`retention deleted ${deleted.length} backup(s), ${result.freedBytes} bytes`);
    return result;
  }

  /**
   * Sets `expiresAt` on a target's newest records from its policy as soon as a backup of it
   * completes, reading only the newest `PAGE` records: work that does not grow with the history.
   * What the policies decide for a record depends only on the record and the ones newer than it
   * (ranks, tier buckets and the last good backup all count newest first), so the decisions for
   * the records newer than the oldest one read are those of a plan over every record. Older
   * records keep their `expiresAt` until the next cleanup plans everything. (A `maxTotalBytes`
   * cap counts older records too, but only ever turns a keep into a delete, which keeps the same
   * `expiresAt`.)
   */
  @OnEvent(BackupEvents.Completed, { async: true, suppressErrors: true })
  async onBackupCompleted(event: BackupEvent): Promise<void> {
    if (isRelayedEvent(event)) return; // planned by the process where it completed
    try {
      const { plan, current, complete, oldestAt } = await this.plan(event.record.target, new Date(), PAGE);
      await this.writeExpiry(complete ? plan.keep : plan.keep.filter((k) => k.createdAt.getTime() > oldestAt!), current);
    } catch (e) {
      this.logger.warn(`could not set expiresAt for ${event.record.target}: ${(e as Error).message}`);
    }
  }

  /**
   * Writes the `expiresAt` that changed (only those), a transaction per batch. NOTE: one plain
   * statement per record, not the query builder's `update`: a first cleanup of a large catalog
   * writes one per record, and the builder's per-call garbage grew the worker by ~100 MB.
   */
  private async writeExpiry(keep: RetentionDecision[], current: Map<string, Current>): Promise<void> {
    const changed = keep.filter((k) => {
      const was = current.get(k.id);
      return was !== undefined && was.expiresAt !== (k.expiresAt?.getTime() ?? null) && (k.expiresAt || !was.retentionDays);
    });
    if (!changed.length) return;
    const meta = this.records.metadata;
    const driver = this.records.manager.connection.driver;
    const q = (name: string) => driver.escape(name);
    const value = (prop: string, v: Date | null) => (v === null ? null : driver.preparePersistentValue(v, meta.findColumnWithPropertyName(prop)!));
    const sql =
      `UPDATE ${q(meta.tableName)} SET ${q('expiresAt')} = ${driver.createParameter('expiresAt', 0)}, ${q('updatedAt')} = ${driver.createParameter('updatedAt', 1)}` +
      ` WHERE ${q('id')} = ${driver.createParameter('id', 2)}`;
    for (let i = 0; i < changed.length; i += PAGE) {
      const now = value('updatedAt', new Date());
      await this.records.manager.transaction(async (m) => {
        for (const k of changed.slice(i, i + PAGE)) await m.query(sql, [value('expiresAt', k.expiresAt), now, k.id]);
      });
    }
  }
}
