import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { EventEmitter2 } from '@nestjs/event-emitter';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { BackupEvents } from '../backup/backup-events.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { RestoreEvents, VerifyEvents } from '../restore/restore-events.js';
import { SchedulerEvents } from '../scheduler/scheduler-events.js';
import { APP_EVENTS } from './app-events.js';
import { RedisConnections } from './redis.js';

/** The domain events that cross processes: everything a host may listen to with `@OnEvent`. */
export const RELAYED_EVENTS: ReadonlySet<string> = new Set([
  ...Object.values(BackupEvents),
  ...Object.values(RestoreEvents),
  ...Object.values(VerifyEvents),
  ...Object.values(SchedulerEvents),
  'cache.cleared',
]);

const RELAYED = Symbol.for('backup-manager.relayed-event');

/**
 * True for an event payload that another process emitted and the relay re-emitted here. The
 * library's own listeners (audit, metrics, retention) ignore these: the process where the event
 * happened has already acted on it. A host listener may use it the same way.
 */
export function isRelayedEvent(payload: unknown): boolean {
  return typeof payload === 'object' && payload !== null && (payload as Record<symbol, unknown>)[RELAYED] === true;
}

/** Keys whose values never leave the process, at any depth. */
const SECRET_KEY = /pass(word|phrase)?$|secret|token|authorization|cookie|credential|private_?key|identity/i;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** A JSON-safe copy of a payload without credential-named fields. */
function scrub(value: unknown, depth = 0): unknown {
  if (value instanceof Date) return value;
  if (!value || typeof value !== 'object' || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_KEY.test(k) || typeof v === 'function') continue;
    out[k] = scrub(v, depth + 1);
  }
  return out;
}

/** JSON.parse reviver: timestamps come back as Dates, as the emitting process had them. */
const revive = (_key: string, v: unknown) => (typeof v === 'string' && ISO_DATE.test(v) ? new Date(v) : v);

interface Envelope {
  v: 1;
  origin: string;
  name: string;
  payload: unknown;
}

/**
 * Carries the library's domain events between processes, so a host's `@OnEvent` handler hears a
 * backup completing in a separate worker. Each process publishes the events it emits on
 * `<queuePrefix>:events` and re-emits, on the app's emitter, those other processes published
 * (its own come back and are dropped). Delivery is Redis pub/sub: at most once, to the processes
 * subscribed at that moment; while Redis is down events stay local. Secrets never travel:
 * credential-named fields are dropped from the published copy.
 */
@Injectable()
export class EventRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventRelay.name);
  /** Tells this process's messages from the others'. */
  readonly origin = randomUUID();
  private readonly channel: string;
  private pub?: Redis;
  private sub?: Redis;

  private readonly outgoing = (event: string | string[], payload: unknown) => {
    const name = Array.isArray(event) ? event.join('.') : String(event);
    if (!RELAYED_EVENTS.has(name) || isRelayedEvent(payload) || !this.pub) return;
    let message: string;
    try {
      message = JSON.stringify({ v: 1, origin: this.origin, name, payload: scrub(payload) } satisfies Envelope);
    } catch (e) {
      this.logger.warn(`not relaying ${name}: ${(e as Error).message}`);
      return;
    }
    // Sent once connected (an event of the first moments waits for the connection); while Redis
    // is down the event stays in this process, nothing piles up to be sent later.
    if (!['reconnecting', 'close', 'end'].includes(this.pub.status)) this.pub.publish(this.channel, message).catch(() => undefined);
  };

  constructor(
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly redis: RedisConnections,
  ) {
    this.channel = `${options.queuePrefix}:events`;
  }

  onApplicationBootstrap(): void {
    if (this.options.relayEvents === false) return;
    this.pub = this.redis.create(this.options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    this.pub.connect().catch(() => undefined);
    // Subscriber mode needs a connection of its own; ioredis subscribes again after a reconnect.
    this.sub = this.redis.create(this.options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.incoming(message);
    });
    this.sub.subscribe(this.channel).catch(() => undefined);
    this.events.onAny(this.outgoing);
  }

  onApplicationShutdown(): void {
    this.events.offAny(this.outgoing);
    this.sub?.removeAllListeners('message');
  }

  private incoming(message: string): void {
    let e: Envelope;
    try {
      e = JSON.parse(message, revive) as Envelope;
    } catch {
      return;
    }
    if (e?.v !== 1 || e.origin === this.origin || !RELAYED_EVENTS.has(e.name)) return;
    const payload = e.payload && typeof e.payload === 'object' ? e.payload : {};
    Object.defineProperty(payload, RELAYED, { value: true, enumerable: false });
    try {
      this.events.emit(e.name, payload);
    } catch (err) {
      this.logger.warn(`a listener of relayed ${e.name} threw: ${(err as Error).message}`);
    }
  }
}
