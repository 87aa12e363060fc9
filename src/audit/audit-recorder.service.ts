import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { isRelayedEvent } from '../common/event-relay.js';
import type { Actor } from '../auth/roles.js';
import { scalars, sanitize } from './audit-redact.js';
import { AuditService } from './audit.service.js';
import { AuditOutcome, AuditSeverity } from './entities/audit-event.entity.js';

/** Event namespaces whose events are audited. */
const AUDITED = new Set(['account', 'backup', 'restore', 'verify', 'verification', 'drill', 'schedule', 'scheduler', 'retention', 'cache', 'notification']);
/** Progress and start notices are not actions or outcomes. */
const SKIPPED_VERBS = new Set(['started', 'progress', 'heartbeat']);
/** Event verb → audit verb. Failures map onto the operation they ended, with outcome `failure`. */
const VERBS: Record<string, string> = {
  requested: 'request',
  completed: 'complete',
  failed: 'complete',
  deleted: 'delete',
  downloaded: 'download',
  verified: 'verify',
  corrupted: 'verify',
  created: 'create',
  updated: 'update',
  cancelled: 'cancel',
  canceled: 'cancel',
  cleared: 'clear',
  paused: 'pause',
  resumed: 'resume',
  triggered: 'trigger',
  tested: 'test',
  enabled: 'enable',
  disabled: 'disable',
  skipped: 'skip',
  revoked: 'revoke',
};
const SPECIAL: Record<string, string> = { 'backup.requested': 'backup.create' };
const FAILURE_VERBS = new Set(['failed', 'corrupted', 'error', 'denied']);
const WARNING_ACTIONS = /\.(delete|cancel|clear|cleanup)$|^restore\.|^retention\./;
/** Which payload field names the resource, and its type. */
const RESOURCE_FIELDS: Array<[field: string, type: string | undefined]> = [
  ['record', 'backup'],
  ['run', undefined],
  ['schedule', 'schedule'],
  ['clear', 'cache'],
  ['policy', 'retention'],
  ['user', 'user'],
  ['channel', 'notification_channel'],
];
const RECORD_FIELDS = ['target', 'engine', 'type', 'status', 'scope', 'compression', 'sizeBytes', 'durationMs', 'triggeredBy', 'errorMessage', 'fileKey'];

export interface AuditedPayload {
  actor?: Actor;
  record?: { id?: string; triggeredBy?: string } & Record<string, unknown>;
  run?: Record<string, unknown>;
  schedule?: Record<string, unknown>;
  detail?: Record<string, unknown>;
  [k: string]: unknown;
}

/** Maps domain events (emitted by any module) to audit entries; modules never call the audit module. */
export function auditEntryFor(event: string, payload: AuditedPayload | undefined, secrets: string[]) {
  const parts = event.split('.');
  const ns = parts[0];
  const verb = parts[parts.length - 1];
  if (!AUDITED.has(ns) || SKIPPED_VERBS.has(verb)) return undefined;
  const p: AuditedPayload = payload && typeof payload === 'object' ? payload : {};
  const action = SPECIAL[event] ?? [...parts.slice(0, -1), VERBS[verb] ?? verb].join('.');
  const failure = FAILURE_VERBS.has(verb) || p.outcome === 'failure';

  let resourceType: string | undefined;
  let resource: string | undefined;
  const metadata: Record<string, unknown> = { event };
  for (const [field, type] of RESOURCE_FIELDS) {
    const obj = p[field];
    if (!obj || typeof obj !== 'object') continue;
    const o = obj as Record<string, unknown>;
    if (resource === undefined && o.id !== undefined) {
      resource = String(o.id);
      resourceType = type ?? ns;
    }
    metadata[field] = scalars(o, secrets, field === 'record' ? RECORD_FIELDS : undefined);
  }
  for (const [k, v] of Object.entries(p)) {
    if (k === 'actor' || RESOURCE_FIELDS.some(([f]) => f === k)) continue;
    metadata[k] = sanitize(v, secrets);
  }
  return {
    action,
    actor: p.actor?.sub ? p.actor : actorFromTrigger(p.record?.triggeredBy),
    resourceType,
    resource,
    outcome: failure ? AuditOutcome.Failure : AuditOutcome.Success,
    severity: verb === 'corrupted' ? AuditSeverity.Critical : failure ? AuditSeverity.Error : WARNING_ACTIONS.test(action) ? AuditSeverity.Warning : AuditSeverity.Info,
    metadata,
  };
}

/** Job outcomes carry no actor: they are attributed to the user who asked, else to `system`. */
function actorFromTrigger(triggeredBy: unknown): Actor | 'system' {
  if (typeof triggeredBy === 'string' && triggeredBy.startsWith('user:') && triggeredBy.length > 5) {
    return { sub: triggeredBy.slice(5), role: undefined as unknown as Actor['role'] };
  }
  return 'system';
}

/** Listens to every domain event (wildcard emitter) and records the audited ones. */
@Injectable()
export class AuditRecorder implements OnModuleInit, OnModuleDestroy {
  private readonly listener = (event: string | string[], payload: unknown) => {
    // Another process recorded it where it happened.
    if (isRelayedEvent(payload)) return;
    const name = Array.isArray(event) ? event.join('.') : String(event);
    const entry = auditEntryFor(name, payload as AuditedPayload, this.audit.knownSecrets);
    if (entry) void this.audit.record(entry);
  };

  constructor(
    @Inject(APP_EVENTS) private readonly emitter: EventEmitter2,
    private readonly audit: AuditService,
  ) {}

  onModuleInit(): void {
    // NOTE: onAny (not @OnEvent('**')) because Nest's wrapper does not pass the event name.
    this.emitter.onAny(this.listener);
  }

  onModuleDestroy(): void {
    this.emitter.offAny(this.listener);
  }
}
