import { HttpException, Inject, Injectable } from '@nestjs/common';
import { ErrorCode } from '../common/error-codes.js';
import { httpError } from '../common/http-errors.js';
import { BACKUP_MANAGER_OPTIONS, DEFAULTS, type BackupManagerOptions } from '../config/options.js';

/** Most keys tracked at once per counter; the oldest entry goes first (bounds memory under a flood). */
const MAX_KEYS = 10_000;

interface Entry {
  failures: number;
  windowStart: number;
  blockedUntil: number;
}

/**
 * Failures of one kind counted per key in a fixed window; a key that reaches the limit is
 * blocked for one window. In memory, per process: each API replica counts on its own.
 */
export class FailureCounter {
  private readonly keys = new Map<string, Entry>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds `key` must wait, or 0 when it is not blocked. */
  retryAfterMs(key: string): number {
    if (this.limit <= 0) return 0;
    const wait = (this.keys.get(key)?.blockedUntil ?? 0) - this.now();
    return wait > 0 ? wait : 0;
  }

  /** Records one failure of `key`. */
  fail(key: string): void {
    if (this.limit <= 0) return;
    const now = this.now();
    let e = this.keys.get(key);
    if (!e || now - e.windowStart >= this.windowMs) {
      e = { failures: 0, windowStart: now, blockedUntil: e && e.blockedUntil > now ? e.blockedUntil : 0 };
    }
    e.failures++;
    if (e.failures >= this.limit) e.blockedUntil = now + this.windowMs;
    this.keys.delete(key); // re-insert: Map order is recency order
    this.keys.set(key, e);
    for (const oldest of this.keys.keys()) {
      if (this.keys.size <= MAX_KEYS) break;
      this.keys.delete(oldest);
    }
  }
}

/** A 429 with `Retry-After` (set on `res`) saying what to wait for. */
export function tooMany(res: { setHeader(name: string, value: string): unknown } | undefined, waitMs: number, what: string): HttpException {
  const seconds = Math.ceil(waitMs / 1000);
  res?.setHeader('Retry-After', String(seconds));
  return httpError(ErrorCode.TooManyFailures, `${what}; retry in ${seconds} s`);
}

/**
 * Throttles callers who keep being refused, and only them: requests that authenticate and pass
 * their role check are never refused here. Failed authentications (401) count per client IP
 * (`req.ip`: behind a reverse proxy, set TRUST_PROXY so it is the client's); refused role checks
 * (403) count per actor. Past its limit in a window, such a caller gets 429 for one window.
 */
@Injectable()
export class AuthFailureLimiter {
  /** Failed authentications, by client IP. Default 20 a window. */
  readonly authentication: FailureCounter;
  /** Refused role checks, by actor (token subject). Default 20 a window. */
  readonly forbidden: FailureCounter;

  constructor(@Inject(BACKUP_MANAGER_OPTIONS) options: BackupManagerOptions) {
    const windowMs = options.auth.failureWindowMs ?? DEFAULTS.auth.failureWindowMs;
    this.authentication = new FailureCounter(options.auth.failureLimit ?? DEFAULTS.auth.failureLimit, windowMs, () => this.now());
    this.forbidden = new FailureCounter(options.auth.forbiddenLimit ?? DEFAULTS.auth.forbiddenLimit, windowMs, () => this.now());
  }

  protected now(): number {
    return Date.now();
  }
}
