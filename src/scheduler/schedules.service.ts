import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomUUID } from 'node:crypto';
import type { Repository } from 'typeorm';
import type { Actor } from '../auth/roles.js';
import { BackupsService, type BackupSubmission } from '../backup/backups.service.js';
import { lackingCopies } from '../backup/copy-health.js';
import type { BackupType } from '../backup/entities/backup-record.entity.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { DomainError, ErrorCode, invalid } from '../common/errors.js';
import { findByIdOrPrefix } from '../common/ids.js';
import { BACKUP_MANAGER_OPTIONS, DEFAULT_SCHEDULE_MIN_INTERVAL_MINUTES, defaultSchedulerOptions, type BackupManagerOptions, type EngineKind, type SchedulerOptions } from '../config/options.js';
import type { BackupScopeKind, DumpFormat } from '../engines/engine.interface.js';
import { canonicalTableName, TableNameError } from '../engines/table-names.js';
import { StorageRegistry } from '../storage/storage-registry.js';
import { TargetsService } from '../targets/targets.service.js';
import { checkCron, checkTimezone, nextRuns, PRESETS, type Preset } from './cron.js';
import { cronIntervalProblem, MIN_INTERVAL_SETTING } from './cron-gap.js';
import type { CreateScheduleDto, ScheduleResponse, UpdateScheduleDto } from './dto/schedule.dto.js';
import { Schedule } from './entities/schedule.entity.js';
import { SchedulerEvents, type ScheduleEvent } from './scheduler-events.js';

const PRESET_TYPE: Record<Preset, BackupType> = { hourly: 'daily' as BackupType, daily: 'daily' as BackupType, weekly: 'weekly' as BackupType, monthly: 'monthly' as BackupType };

/** The cron expression a schedule runs on. */
export const expressionOf = (s: Pick<Schedule, 'cron' | 'preset'>): string => s.cron ?? PRESETS[s.preset as Preset];

/** A UUID derived from a string: the same input gives the same id on every replica. */
export function stableUuid(input: string): string {
  const h = createHash('sha256').update(input).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Schedules in the catalog: CRUD, default plans, run now. Ticks live in `ScheduleTicker`. */
@Injectable()
export class SchedulesService {
  private readonly logger = new Logger('SchedulesService');
  readonly settings: SchedulerOptions;
  /** Called after every change so this process re-registers at once (others poll). */
  onChange?: () => void;

  constructor(
    @InjectRepository(Schedule, CATALOG_CONNECTION) private readonly schedules: Repository<Schedule>,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly targets: TargetsService,
    private readonly backups: BackupsService,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    private readonly registry: StorageRegistry,
  ) {
    this.settings = options.schedules ?? defaultSchedulerOptions();
  }

  /** Every live schedule, by name. */
  all(): Promise<Schedule[]> {
    return this.schedules.find({ order: { name: 'ASC' } });
  }

  /** By full id or an unambiguous prefix of 8 or more characters. */
  get(id: string): Promise<Schedule> {
    return findByIdOrPrefix(this.schedules, id, 'Schedule', ErrorCode.ScheduleNotFound);
  }

  /** The live schedule with this id, or null (used by ticks: no error for a vanished one). */
  find(id: string): Promise<Schedule | null> {
    return this.schedules.findOneBy({ id });
  }

  async create(dto: CreateScheduleDto, actor?: Actor): Promise<Schedule> {
    const s = this.schedules.create({
      id: randomUUID(),
      name: dto.name,
      target: dto.target,
      cron: dto.cron?.trim() || null,
      preset: dto.preset ?? null,
      timezone: dto.timezone ?? this.options.timezone,
      type: dto.type ?? (dto.preset ? PRESET_TYPE[dto.preset as Preset] : 'daily'),
      scope: dto.scope ?? 'full',
      tables: dto.tables?.length ? dto.tables : null,
      includeSchema: dto.includeSchema ?? true,
      includeData: dto.includeData ?? true,
      format: dto.format ?? null,
      compression: dto.compression ?? null,
      encrypt: dto.encrypt ?? null,
      storages: dto.storages?.length ? dto.storages : null,
      retentionPolicy: dto.retentionPolicy ?? null,
      description: dto.description ?? null,
      enabled: dto.enabled ?? true,
      isDefault: false,
      lastRunAt: null,
      lastStatus: null,
      lastBackupId: null,
      lastError: null,
      createdBy: actor ? `user:${actor.sub}` : null,
    });
    if (!s.cron && !s.preset) throw invalid('give either cron (e.g. "0 2 * * *") or preset (hourly, daily, weekly, monthly)');
    await this.check(s, true);
    await this.schedules.insert(s);
    const saved = await this.get(s.id);
    this.changed(SchedulerEvents.ScheduleCreated, saved, actor);
    return saved;
  }

  async update(id: string, dto: UpdateScheduleDto, actor?: Actor): Promise<Schedule> {
    const s = await this.get(id);
    const before = { enabled: s.enabled };
    if (dto.cron !== undefined && dto.preset !== undefined && dto.cron !== null && dto.preset !== null) {
      throw invalid('give either cron or preset, not both');
    }
    if (dto.cron) {
      s.cron = dto.cron.trim();
      s.preset = null;
    } else if (dto.preset) {
      s.preset = dto.preset;
      s.cron = null;
    }
    for (const k of ['name', 'target', 'timezone', 'type', 'scope', 'includeSchema', 'includeData', 'format', 'compression', 'description', 'enabled'] as const) {
      if (dto[k] !== undefined && dto[k] !== null) (s as unknown as Record<string, unknown>)[k] = dto[k];
    }
    if (dto.tables !== undefined) s.tables = dto.tables?.length ? dto.tables : null;
    if ('retentionPolicy' in dto && dto.retentionPolicy !== undefined) s.retentionPolicy = dto.retentionPolicy ?? null;
    if ('format' in dto && dto.format === null) s.format = null;
    if ('compression' in dto && dto.compression === null) s.compression = null;
    if ('encrypt' in dto && dto.encrypt !== undefined) s.encrypt = dto.encrypt ?? null;
    if (dto.storages !== undefined) s.storages = dto.storages?.length ? dto.storages : null;
    await this.check(s, !!(dto.cron || dto.preset || dto.timezone));
    await this.schedules.save(s);
    const saved = await this.get(s.id);
    const event = before.enabled !== saved.enabled && Object.keys(dto).length === 1
      ? saved.enabled ? SchedulerEvents.ScheduleEnabled : SchedulerEvents.ScheduleDisabled
      : SchedulerEvents.ScheduleUpdated;
    this.changed(event, saved, actor, { changed: Object.keys(dto) });
    return saved;
  }

  setEnabled(id: string, enabled: boolean, actor?: Actor): Promise<Schedule> {
    return this.update(id, { enabled }, actor);
  }

  async remove(id: string, actor?: Actor): Promise<Schedule> {
    const s = await this.get(id);
    await this.schedules.softDelete({ id: s.id });
    this.changed(SchedulerEvents.ScheduleDeleted, s, actor);
    return s;
  }

  /** Starts a backup now, as the schedule would (same type, scope and policy), or finds the identical one still QUEUED. */
  async runNow(id: string, actor?: Actor): Promise<BackupSubmission> {
    const s = await this.get(id);
    const submitted = await this.requestBackup(s, { trigger: 'manual', by: actor ? `user:${actor.sub}` : undefined }, actor);
    const { record } = submitted;
    await this.recordRun(s.id, new Date(), record.id, record.status, null);
    this.events.emit(SchedulerEvents.ScheduleTriggered, { schedule: s, actor, detail: { backupId: record.id, reused: !submitted.created } } satisfies ScheduleEvent);
    return submitted;
  }

  /**
   * Asks the backup module for the schedule's backup; while an identical one is still QUEUED (the
   * last run's, when workers lag), that one is returned and nothing new is queued.
   */
  requestBackup(s: Schedule, run: { trigger: 'tick' | 'manual'; scheduledFor?: Date; by?: string; firedBy?: string }, actor?: Actor): Promise<BackupSubmission> {
    return this.backups.submit(
      {
        target: s.target,
        type: s.type as BackupType,
        scope: s.scope as BackupScopeKind,
        tables: s.tables ?? undefined,
        includeSchema: s.includeSchema,
        includeData: s.includeData,
        format: (s.format ?? undefined) as DumpFormat | undefined,
        compression: (s.compression ?? undefined) as 'zstd' | 'gzip' | 'none' | undefined,
        encrypt: s.encrypt ?? undefined,
        storages: s.storages ?? undefined,
        triggeredBy: `schedule:${s.name}`,
        description: s.description ?? undefined,
        metadata: {
          scheduleId: s.id,
          schedule: s.name,
          retentionPolicy: this.policyName(s),
          trigger: run.trigger,
          ...(run.scheduledFor ? { scheduledFor: run.scheduledFor.toISOString() } : {}),
          ...(run.by ? { requestedBy: run.by } : {}),
          ...(run.firedBy ? { firedBy: run.firedBy } : {}),
        },
      },
      actor,
    );
  }

  async recordRun(id: string, at: Date, backupId: string | null, status: string, error: string | null): Promise<void> {
    await this.schedules.update({ id }, { lastRunAt: at, lastBackupId: backupId, lastStatus: status, lastError: error });
  }

  /** Shortest time allowed between two runs of a schedule, in minutes (0: no minimum). */
  get minIntervalMinutes(): number {
    return this.settings.minIntervalMinutes ?? DEFAULT_SCHEDULE_MIN_INTERVAL_MINUTES;
  }

  policyName(s: Schedule): string {
    return s.retentionPolicy ?? this.settings.retention.defaultPolicy;
  }

  /** The API view: upcoming runs, and the status of the last backup as it is now. */
  async view(s: Schedule, now = new Date()): Promise<ScheduleResponse> {
    const expression = expressionOf(s);
    const upcoming = s.enabled ? nextRuns(expression, s.timezone, 5, now) : [];
    let lastStatus = s.lastStatus;
    let lastBackupDegraded = false;
    const last = s.lastBackupId ? await this.backups.get(s.lastBackupId, { withDeleted: true }).catch(() => undefined) : undefined;
    if (last) {
      lastStatus = last.status;
      lastBackupDegraded = lackingCopies(last, (await this.backups.copiesOf([last.id])).get(last.id)).length > 0;
    }
    const { deletedAt: _deleted, ...rest } = s;
    void _deleted;
    return { ...rest, expression, effectiveRetentionPolicy: this.policyName(s), nextRunAt: upcoming[0] ?? null, nextRuns: upcoming, lastStatus, lastBackupDegraded };
  }

  /**
   * Creates the configured default plans (one set per target) when the catalog has never held a
   * schedule. Ids are derived from target and type, so replicas starting together create one set.
   */
  async ensureDefaultPlans(): Promise<number> {
    const plans = this.settings.defaultPlans;
    if (!plans.length || !this.options.targets.length) return 0;
    if ((await this.schedules.count({ withDeleted: true })) > 0) return 0;
    let created = 0;
    for (const t of this.options.targets) {
      for (const p of plans) {
        const s = this.schedules.create({
          id: stableUuid(`default-plan:${t.name}:${p.type}`),
          name: `${t.name}-${p.type}`,
          target: t.name,
          cron: p.cron,
          preset: null,
          timezone: this.options.timezone,
          type: p.type,
          scope: 'full',
          tables: null,
          includeSchema: true,
          includeData: true,
          format: null,
          compression: null,
          encrypt: null,
          storages: null,
          retentionPolicy: null,
          description: `Default ${p.type} plan (from configuration)`,
          enabled: true,
          isDefault: true,
          lastRunAt: null,
          lastStatus: null,
          lastBackupId: null,
          lastError: null,
          createdBy: 'system',
        });
        try {
          await this.schedules.insert(s);
          created++;
          this.events.emit(SchedulerEvents.ScheduleCreated, { schedule: s, detail: { defaultPlan: true } } satisfies ScheduleEvent);
        } catch {
          // Another replica created it first.
        }
      }
    }
    if (created) this.logger.log(`created ${created} default schedule(s)`);
    return created;
  }

  /** `timingChanged`: the cron, preset or zone is being set (the minimum interval is checked then, and whenever the schedule is enabled). */
  private async check(s: Schedule, timingChanged: boolean): Promise<void> {
    if (s.cron) checkCron(s.cron);
    if (s.preset && !(s.preset in PRESETS)) throw invalid(`preset must be one of: ${Object.keys(PRESETS).join(', ')}`);
    checkTimezone(s.timezone);
    const tooOften = timingChanged || s.enabled ? cronIntervalProblem(expressionOf(s), s.timezone, this.minIntervalMinutes, MIN_INTERVAL_SETTING) : undefined;
    if (tooOften) throw invalid(tooOften);
    if (s.retentionPolicy && !this.settings.retention.policies.some((p) => p.name === s.retentionPolicy)) {
      throw invalid(`retentionPolicy "${s.retentionPolicy}" is not a configured policy (known: ${this.settings.retention.policies.map((p) => p.name).join(', ')})`);
    }
    // Unknown names are refused when saved; a destination removed from the configuration later
    // fails the run with the same message (see `BackupsService.submit`).
    if (s.storages) s.storages = this.registry.resolve(s.storages);
    if (s.scope === 'selective' && !s.tables?.length) throw invalid('scope "selective" needs tables');
    if (s.scope !== 'selective' && s.tables?.length) throw invalid('tables is only used with scope "selective"');
    const target = this.targets.get(s.target);
    // Kept in the canonical form; whether each table exists is checked at each run.
    if (s.tables) s.tables = [...new Set(s.tables.map((t) => scheduleTableName(target.engine, t)))];
    const clash = await this.schedules.findOneBy({ name: s.name });
    if (clash && clash.id !== s.id) throw new DomainError(ErrorCode.ScheduleNameTaken, `A schedule named "${s.name}" already exists`);
  }

  private changed(event: string, schedule: Schedule, actor?: Actor, detail?: Record<string, unknown>): void {
    this.events.emit(event, { schedule, actor, detail } satisfies ScheduleEvent);
    this.onChange?.();
  }
}

/** The canonical text of a schedule's table name. @throws BAD_REQUEST saying how to write it. */
function scheduleTableName(engine: EngineKind, name: string): string {
  try {
    return canonicalTableName(engine, name);
  } catch (err) {
    if (err instanceof TableNameError) throw invalid(`tables: ${err.message}`);
    throw err;
  }
}
