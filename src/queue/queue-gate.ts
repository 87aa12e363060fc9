import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { createHash, randomUUID } from 'node:crypto';
import { DomainError, ErrorCode, queueFull } from '../common/errors.js';
import { BACKUP_MANAGER_OPTIONS, DEFAULT_QUEUE_MAX_WAITING, type BackupManagerOptions } from '../config/options.js';
import { JobsQueue } from './jobs-queue.service.js';
import { REDIS } from '../common/redis.js';
import { RedisWatch } from './redis-watch.js';

/** What a refused request is told: ask again after this long. */
/** What a request refused while Redis is down is told: ask again after this long. */
export const QUEUE_UNAVAILABLE_RETRY_AFTER_SECONDS = 30;
export const QUEUE_FULL_RETRY_AFTER_SECONDS = 60;
/** Longest a request holds the request gate for one spec (enqueueing takes milliseconds). */
const GATE_TTL_MS = 15_000;
/** Compare-and-delete: only the holder releases the gate. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * The caps in front of the job queue, shared by every way in (HTTP, CLI, schedules, host code):
 *
 * - `exclusive(spec, fn)`: requests for the same spec run one at a time, across processes (a short
 *   Redis lock), so "is an identical one already queued?" and "queue a new one" cannot interleave.
 * - `assertRoom(what)`: refuses (429, Retry-After) once `queue.maxWaiting` jobs wait.
 */
@Injectable()
export class QueueGate {
  constructor(
    private readonly queue: JobsQueue,
    @Inject(REDIS) private readonly redis: Pick<Redis, 'set' | 'get' | 'eval'>,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
  ) {}

  get maxWaiting(): number {
    return this.options.queue.maxWaiting ?? DEFAULT_QUEUE_MAX_WAITING;
  }

  /** Jobs waiting for a worker: waiting, prioritized, delayed (retries) and paused. */
  async waiting(): Promise<number> {
    const c = await this.queue.counts();
    return (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0) + (c.paused ?? 0);
  }

  /**
   * @throws QUEUE_FULL (429 with Retry-After) when `maxWaiting` jobs already wait; 503 when the
   * queue cannot be read. Nothing has been recorded when it throws.
   */
  async assertRoom(what: string): Promise<void> {
    this.assertAvailable(what);
    const max = this.maxWaiting;
    if (!max) return;
    const waiting = await this.waiting().catch((err: Error) => {
      throw new DomainError(ErrorCode.QueueUnavailable, `The job queue (Redis) is unavailable; the ${what} was not queued (${err.message})`);
    });
    if (waiting >= max) {
      throw queueFull(
        `The job queue is full: ${waiting} jobs are waiting for a worker and at most ${max} may (QUEUE_MAX_WAITING, queue.maxWaiting in forRoot). ` +
          `The ${what} was not queued; try again in ${QUEUE_FULL_RETRY_AFTER_SECONDS} seconds, once workers have caught up, or add workers.`,
        QUEUE_FULL_RETRY_AFTER_SECONDS,
      );
    }
  }

  /**
   * @throws QUEUE_UNAVAILABLE (503, Retry-After) at once while Redis is down (or refused for its
   * eviction policy), instead of waiting for it; nothing has been recorded then.
   */
  assertAvailable(what: string): void {
    const status = (this.redis as Partial<Pick<Redis, 'status'>>).status;
    if (status === undefined) return; // the in-process stand-in
    const watch = RedisWatch.for(this.options.redisUrl);
    const reason = watch.refusal ?? (status === 'ready' ? undefined : (watch.reason ?? `connection ${status}`));
    if (!reason) return;
    throw new DomainError(
      ErrorCode.QueueUnavailable,
      `The job queue (Redis at ${watch.address}) is unavailable (${reason}); the ${what} was not queued and nothing was recorded. ` +
        `Try again in ${QUEUE_UNAVAILABLE_RETRY_AFTER_SECONDS} seconds, once Redis is back.`,
      { retryAfterSeconds: QUEUE_UNAVAILABLE_RETRY_AFTER_SECONDS },
    );
  }

  /** Runs `fn` while no other request for the same `spec` (any process) runs its own. */
  async exclusive<T>(spec: string, fn: () => Promise<T>): Promise<T> {
    this.assertAvailable('request');
    const key = `${this.options.queuePrefix}:request-gate:${createHash('sha256').update(spec).digest('hex')}`;
    const token = randomUUID();
    const redis = this.redis;
    const deadline = Date.now() + 2 * GATE_TTL_MS;
    let wait = 5;
    while ((await redis.set(key, token, 'PX', GATE_TTL_MS, 'NX')) !== 'OK') {
      // A holder that died lets go when its key expires, well before this deadline.
      if (Date.now() > deadline) throw new DomainError(ErrorCode.QueueBusy, 'Another identical request is still being queued; try again');
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 100);
    }
    try {
      return await fn();
    } finally {
      await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
    }
  }

  /** A pointer kept beside the queue (e.g. the job id of the verification queued for a backup). */
  async remember(name: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(`${this.options.queuePrefix}:${name}`, value, 'PX', ttlMs);
  }

  recall(name: string): Promise<string | null> {
    return this.redis.get(`${this.options.queuePrefix}:${name}`);
  }
}
