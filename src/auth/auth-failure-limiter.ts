import { Inject, Injectable } from '@nestjs/common';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';

/** Most clients tracked at once; the oldest entry goes first (bounds memory under a flood). */
const MAX_CLIENTS = 10_000;

interface Entry {
  failures: number;
  windowStart: number;
  blockedUntil: number;
}

/**
 * Counts failed authentications (401) per client IP in a fixed window; a client that reaches
 * the limit is refused (429) for one window, whatever token it sends, so a guessing client
 * gets no signal. In memory, per process: each API replica counts on its own.
 */
@Injectable()
export class AuthFailureLimiter {
  private readonly clients = new Map<string, Entry>();
  private readonly limit: number;
  private readonly windowMs: number;

  constructor(@Inject(BACKUP_MANAGER_OPTIONS) options: BackupManagerOptions) {
    this.limit = options.auth.failureLimit ?? 20;
    this.windowMs = options.auth.failureWindowMs ?? 60_000;
  }

  /** Milliseconds the client must wait, or 0 when it may try. */
  retryAfterMs(ip: string): number {
    if (this.limit <= 0) return 0;
    const e = this.clients.get(ip);
    if (!e) return 0;
    const wait = e.blockedUntil - this.now();
    return wait > 0 ? wait : 0;
  }

  /** Records one failed authentication of `ip`. */
  fail(ip: string): void {
    if (this.limit <= 0) return;
    const now = this.now();
    let e = this.clients.get(ip);
    if (!e || now - e.windowStart >= this.windowMs) {
      e = { failures: 0, windowStart: now, blockedUntil: e && e.blockedUntil > now ? e.blockedUntil : 0 };
    }
    e.failures++;
    if (e.failures >= this.limit) e.blockedUntil = now + this.windowMs;
    this.clients.delete(ip); // re-insert: Map order is recency order
    this.clients.set(ip, e);
    for (const oldest of this.clients.keys()) {
      if (this.clients.size <= MAX_CLIENTS) break;
      this.clients.delete(oldest);
    }
  }

  protected now(): number {
    return Date.now();
  }
}
