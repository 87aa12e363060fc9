import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Between, In, LessThanOrEqual, Like, MoreThanOrEqual, type FindOptionsWhere, type Repository } from 'typeorm';
import type { Actor } from '../auth/roles.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { toPage, type Paged } from '../common/page.dto.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { TargetsService } from '../targets/targets.service.js';
import { sanitize } from './audit-redact.js';
import { AuditEvent, AuditOutcome, AuditSeverity } from './entities/audit-event.entity.js';
import type { ListAuditQuery } from './dto/audit.dto.js';
import { requestContext } from './request-context.js';

/** What a caller records; everything else (time, request id, client IP) is filled in. */
export interface AuditEntry {
  action: string;
  actor?: Actor | 'system' | 'anonymous';
  resourceType?: string;
  resource?: string;
  outcome?: AuditOutcome;
  severity?: AuditSeverity;
  metadata?: Record<string, unknown>;
  occurredAt?: Date;
}

/** Writes and reads the append-only audit trail. There is deliberately no update or delete. */
@Injectable()
export class AuditService implements OnModuleInit {
  private readonly logger = new Logger('Audit');
  private secrets: string[] = [];
  private pending = new Set<Promise<void>>();

  constructor(
    @InjectRepository(AuditEvent, CATALOG_CONNECTION) private readonly events: Repository<AuditEvent>,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly targets: TargetsService,
  ) {}

  /** Every configured target password, so none can reach an event even inside free text. */
  async onModuleInit(): Promise<void> {
    const secrets = new Set<string>([this.options.auth.jwtSecret]);
    for (const t of this.options.targets) {
      const resolved = await this.targets.resolve(t.name).catch(() => undefined);
      for (const s of this.targets.secretsOf(resolved)) secrets.add(s);
    }
    this.secrets = [...secrets].filter((s) => s.length >= 3);
  }

  /** Known secrets for redaction by the recorder. */
  get knownSecrets(): string[] {
    return this.secrets;
  }

  /**
   * Records one event. Request id and client IP come from the current request, if any. Never
   * throws: a failed insert is logged (the action it describes has already happened).
   */
  record(entry: AuditEntry): Promise<void> {
    const ctx = requestContext.getStore();
    const actor = entry.actor ?? 'system';
    const row: AuditEvent = {
      id: randomUUID(),
      occurredAt: entry.occurredAt ?? new Date(),
      actorId: typeof actor === 'string' ? actor : actor.sub.slice(0, 128),
      actorName: typeof actor === 'string' ? null : (actor.name?.slice(0, 128) ?? null),
      actorRole: typeof actor === 'string' ? null : (actor.role ?? null),
      action: entry.action.slice(0, 64),
      resourceType: entry.resourceType?.slice(0, 32) ?? null,
      resource: entry.resource?.slice(0, 255) ?? null,
      outcome: entry.outcome ?? AuditOutcome.Success,
      severity: entry.severity ?? AuditSeverity.Info,
      requestId: ctx?.requestId ?? null,
      clientIp: ctx?.clientIp?.slice(0, 64) ?? null,
      metadata: entry.metadata ? (sanitize(entry.metadata, this.secrets) as Record<string, unknown>) : null,
    };
    const p = this.events
      .insert(row)
      .then(() => undefined)
      .catch((err: Error) => this.logger.error(`could not record audit event ${row.action}: ${err.message}`))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
    return p;
  }

  /** Resolves when every insert started so far has finished (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  async list(q: ListAuditQuery): Promise<Paged<AuditEvent>> {
    const where: FindOptionsWhere<AuditEvent> = {};
    if (q.action) where.action = q.action.endsWith('*') ? Like(`${escapeLike(q.action.slice(0, -1))}%`) : q.action;
    if (q.actor) where.actorId = q.actor;
    if (q.outcome) where.outcome = q.outcome;
    if (q.severity) where.severity = In(severitiesFrom(q.severity));
    if (q.resource) where.resource = q.resource;
    if (q.from && q.to) where.occurredAt = Between(q.from, q.to);
    else if (q.from) where.occurredAt = MoreThanOrEqual(q.from);
    else if (q.to) where.occurredAt = LessThanOrEqual(q.to);
    const [items, total] = await this.events.findAndCount({
      where,
      order: { occurredAt: 'DESC', id: 'DESC' },
      skip: (q.page - 1) * q.limit,
      take: q.limit,
    });
    return toPage(items, total, q);
  }
}

const SEVERITY_ORDER = [AuditSeverity.Info, AuditSeverity.Warning, AuditSeverity.Error, AuditSeverity.Critical];

/** `severity=warning` lists warning and worse. */
function severitiesFrom(min: AuditSeverity): AuditSeverity[] {
  return SEVERITY_ORDER.slice(SEVERITY_ORDER.indexOf(min));
}

function escapeLike(s: string): string {
  return s.replace(/%/g, ''); // `_` stays: it matches itself (and any one character)
}
