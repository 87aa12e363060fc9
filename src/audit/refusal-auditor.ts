import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Actor } from '../auth/roles.js';
import { BACKUP_MANAGER_OPTIONS, DEFAULTS, type BackupManagerOptions } from '../config/options.js';
import { AuditService } from './audit.service.js';
import { AuditOutcome, AuditSeverity } from './entities/audit-event.entity.js';
import { requestContext, type RequestContext } from './request-context.js';

/** Refusals of one kind by one caller recorded one by one in a window; the rest are summed up. */
const BURST = 5;
/** Routes listed in a summary, at most. */
const MAX_ROUTES = 20;

/** A refused request, as the audit trail shows it. */
export interface RefusalEvent {
  action: 'auth.login_failed' | 'auth.forbidden';
  actor: Actor | 'anonymous';
  route: string;
  status: number;
  reason?: string;
}

interface Window {
  start: number;
  recorded: number;
  repeated: number;
  statuses: Record<string, number>;
  routes: Record<string, number>;
  firstAt?: Date;
  lastAt?: Date;
  last: RefusalEvent;
  ctx?: RequestContext;
}

/**
 * Audits refused requests (401, 403 and the 429s of callers throttled for them) without letting a
 * flood of them flood the trail: per action, caller and client IP, the first few in a window are
 * recorded one by one, the rest counted and recorded as one entry (`metadata.repeated`) when the
 * window closes (or at shutdown).
 */
@Injectable()
export class RefusalAuditor implements OnModuleDestroy {
  private readonly windows = new Map<string, Window>();
  private readonly windowMs: number;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly audit: AuditService,
    @Inject(BACKUP_MANAGER_OPTIONS) options: BackupManagerOptions,
  ) {
    this.windowMs = options.auth.failureWindowMs ?? DEFAULTS.auth.failureWindowMs;
  }

  /** Records `e` (in the current request context), or counts it toward its window's summary. */
  record(e: RefusalEvent): void {
    const ctx = requestContext.getStore();
    const actorId = e.actor === 'anonymous' ? 'anonymous' : e.actor.sub;
    const key = `${e.action}\n${actorId}\n${ctx?.clientIp ?? ''}`;
    const now = Date.now();
    let w = this.windows.get(key);
    if (w && now - w.start >= this.windowMs) {
      this.summarize(w);
      w = undefined;
    }
    if (!w) {
      w = { start: now, recorded: 0, repeated: 0, statuses: {}, routes: {}, last: e };
      this.windows.set(key, w);
    }
    if (w.recorded < BURST) {
      w.recorded++;
      void this.audit.record(this.entry(e, { status: e.status, ...(e.reason ? { reason: e.reason } : {}) }));
      return;
    }
    w.repeated++;
    w.statuses[e.status] = (w.statuses[e.status] ?? 0) + 1;
    if (w.routes[e.route] !== undefined || Object.keys(w.routes).length < MAX_ROUTES) w.routes[e.route] = (w.routes[e.route] ?? 0) + 1;
    w.firstAt ??= new Date(now);
    w.lastAt = new Date(now);
    w.last = e;
    w.ctx = ctx;
    this.timer ??= setInterval(() => this.closeWindows(), Math.max(250, Math.floor(this.windowMs / 4))).unref();
  }

  /** Writes the summaries of windows that have closed (all of them with `all`). */
  closeWindows(all = false): void {
    const now = Date.now();
    for (const [key, w] of this.windows) {
      if (!all && now - w.start < this.windowMs) continue;
      this.windows.delete(key);
      this.summarize(w);
    }
    if (!this.windows.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.closeWindows(true);
    await this.audit.flush();
  }

  private summarize(w: Window): void {
    if (!w.repeated) return;
    const entry = this.entry(w.last, {
      repeated: w.repeated,
      statuses: w.statuses,
      routes: w.routes,
      firstAt: w.firstAt?.toISOString(),
      lastAt: w.lastAt?.toISOString(),
      note: `${w.repeated} more like this within ${Math.round(this.windowMs / 1000)} s, summed up in this entry`,
    });
    entry.occurredAt = w.lastAt;
    entry.resource = Object.keys(w.routes).length === 1 ? w.last.route : `${Object.keys(w.routes).length} routes`;
    const write = () => void this.audit.record(entry);
    if (w.ctx) requestContext.run(w.ctx, write);
    else write();
  }

  private entry(e: RefusalEvent, metadata: Record<string, unknown>) {
    return {
      action: e.action,
      actor: e.actor,
      resourceType: 'route',
      resource: e.route,
      outcome: AuditOutcome.Failure,
      severity: AuditSeverity.Warning,
      metadata,
      occurredAt: undefined as Date | undefined,
    };
  }
}
