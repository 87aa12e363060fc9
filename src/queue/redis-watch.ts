import { Logger } from '@nestjs/common';

/** First repeat of the "Redis unreachable" warning; each later one waits twice as long, up to an hour. */
const FIRST_REPEAT_MS = 60_000;
const MAX_REPEAT_MS = 3600_000;

/** `redis://user:secret@host:6379/0` without its credentials, for logs and errors. */
export function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'the configured Redis';
  }
}

/**
 * Turns the errors of this process's Redis connections (which retry every couple of seconds while
 * Redis is down) into one clear warning, repeated with backoff, and one line when Redis is back.
 * Every connection reports here (`watch`); none is left without an error listener, so no
 * "Unhandled error event" stack trace is ever printed.
 */
export class RedisWatch {
  private static readonly shared = new Map<string, RedisWatch>();

  /** This process's watch of the Redis at `url` (one per address, so one warning per outage). */
  static for(url: string): RedisWatch {
    const address = redisAddress(url);
    let w = RedisWatch.shared.get(address);
    if (!w) RedisWatch.shared.set(address, (w = new RedisWatch(url)));
    return w;
  }

  private readonly logger = new Logger('Redis');
  private downSince?: number;
  private nextWarnAt = 0;
  private repeatMs = FIRST_REPEAT_MS;
  private failures = 0;
  private lastError = '';
  readonly address: string;

  constructor(url: string) {
    this.address = redisAddress(url);
  }

  /** Whether a connection has failed since Redis was last reachable. */
  get down(): boolean {
    return this.downSince !== undefined;
  }

  /** Set while the Redis that answered may evict keys (and that is not allowed): jobs are refused. */
  refusal?: string;

  /** Failed connection attempts in the current outage. */
  get failedAttempts(): number {
    return this.down ? this.failures : 0;
  }

  /** Why Redis is taken to be down (the last connection error), or undefined. */
  get reason(): string | undefined {
    return this.down ? this.lastError : undefined;
  }

  /** Reports `emitter`'s errors (and, with `ready`, its reconnections) here. */
  watch(emitter: { on(event: string, fn: (...args: never[]) => void): unknown }, ready = true): void {
    emitter.on('error', (err: Error) => this.failed(err));
    if (ready) emitter.on('ready', () => this.reachable());
  }

  failed(err: Error): void {
    const now = Date.now();
    this.lastError = err?.message || String(err);
    if (this.downSince === undefined) {
      this.downSince = now;
      this.nextWarnAt = 0;
      this.repeatMs = FIRST_REPEAT_MS;
      this.failures = 0;
    }
    this.failures++;
    if (now < this.nextWarnAt) return;
    const since = this.failures > 1 ? `, ${this.failures} failed attempts over ${Math.round((now - this.downSince) / 1000)} s` : '';
    this.logger.warn(
      `Redis at ${this.address} is unreachable (${this.lastError}${since}): jobs cannot be queued (requests get 503 QUEUE_UNAVAILABLE) ` +
        `or run until it is back. Reconnecting in the background; next reminder in ${Math.round(this.repeatMs / 1000)} s if it stays down.`,
    );
    this.nextWarnAt = now + this.repeatMs;
    this.repeatMs = Math.min(this.repeatMs * 2, MAX_REPEAT_MS);
  }

  reachable(): void {
    if (this.downSince === undefined) return;
    this.logger.log(`Redis at ${this.address} is reachable again (after ${Math.round((Date.now() - this.downSince) / 1000)} s)`);
    this.downSince = undefined;
  }
}

/** A failure to reach Redis (refused, reset, timed out, unresolvable), as opposed to a command error. */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN'].includes(code ?? '') ||
    /Connection is closed|connect ETIMEDOUT|ECONNREFUSED/.test((err as Error)?.message ?? '')
  );
}
