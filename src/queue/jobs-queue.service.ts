import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { REDIS } from '../common/redis.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { DomainError, ErrorCode } from '../common/errors.js';
import { JOBS_QUEUE, type JobName, type JobPayloads } from './jobs.js';
import { isConnectionError, RedisWatch } from './redis-watch.js';

/** How long start-up waits for a first answer from Redis before going on without it. */
const FIRST_CONNECT_WAIT_MS = 3_000;
/** What a request refused while Redis is down is told: ask again after this long. */
export const QUEUE_UNAVAILABLE_RETRY_AFTER_SECONDS = 30;

/**
 * Producer facade over the jobs queue. Start-up checks that Redis will not evict its keys, but
 * does not wait for a Redis that is down: requests are then refused at once (503) until it is back.
 */
@Injectable()
export class JobsQueue implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JobsQueue');
  readonly queue: Queue;
  /** Every Redis connection to this address in the process reports here (one warning, with backoff). */
  readonly redis: RedisWatch;
  /** Set while the Redis that answered may evict keys (and that is not allowed): jobs are refused. */
  private evictionRefusal?: string;

  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @Inject(REDIS) readonly connection: Redis,
  ) {
    this.redis = RedisWatch.for(options.redisUrl);
    this.queue = new Queue(JOBS_QUEUE, { connection: this.connection, prefix: options.queuePrefix });
    // Without a listener, BullMQ prints every failed reconnection's stack trace to the console.
    this.queue.on('error', (err) => (isConnectionError(err) ? this.redis.failed(err) : this.logger.error(`queue error: ${err.message}`)));
  }

  /**
   * Refuses to start on a Redis that may evict keys: an evicted job, lock or record of a retry
   * loses work without a trace. `REDIS_ALLOW_EVICTION=true` (queue.allowEviction) downgrades the
   * refusal to a loud warning; where `CONFIG GET` is not allowed (managed Redis) it only warns.
   * A Redis that does not answer within a few seconds is checked when it comes back instead.
   */
  async onModuleInit(): Promise<void> {
    this.connection.on('ready', () => void this.checkEviction(false).catch(() => undefined));
    const first = await firstAnswer(this.connection, FIRST_CONNECT_WAIT_MS);
    if (first !== true) {
      this.redis.failed(first);
      return;
    }
    await this.checkEviction(true);
  }

  private async checkEviction(atStartup: boolean): Promise<void> {
    const policy = await evictionPolicy(this.connection);
    this.evictionRefusal = undefined;
    if (policy === 'noeviction') return;
    if (policy instanceof Error) {
      this.logger.warn(
        `IMPORTANT: could not read Redis maxmemory-policy (${policy.message}); it must be "noeviction", or Redis may silently drop queued jobs and locks. Check it with your Redis provider.`,
      );
      return;
    }
    const msg = `Redis maxmemory-policy is "${policy}"; it must be "noeviction", or Redis may silently drop queued jobs and locks when memory runs short. Set it with CONFIG SET maxmemory-policy noeviction (or in redis.conf)`;
    if (this.options.queue.allowEviction) {
      this.logger.warn(`IMPORTANT: ${msg}. Running anyway because REDIS_ALLOW_EVICTION=true.`);
      return;
    }
    if (atStartup) throw new Error(`${msg}, or start with REDIS_ALLOW_EVICTION=true to run anyway.`);
    // Redis came up after start-up: refuse jobs rather than stop the app.
    this.evictionRefusal = `Redis maxmemory-policy is "${policy}", not "noeviction"`;
    this.logger.error(`${msg}, or set REDIS_ALLOW_EVICTION=true (queue.allowEviction). Jobs are refused until then.`);
  }

  /**
   * @throws QUEUE_UNAVAILABLE (503, Retry-After) at once while Redis is down, instead of waiting
   * for it; callers check before they record anything.
   */
  assertAvailable(what: string): void {
    const reason = this.evictionRefusal ?? (this.connection.status === 'ready' ? undefined : (this.redis.reason ?? `connection ${this.connection.status}`));
    if (!reason) return;
    throw new DomainError(
      ErrorCode.QueueUnavailable,
      `The job queue (Redis at ${this.redis.address}) is unavailable (${reason}); the ${what} was not queued and nothing was recorded. ` +
        `Try again in ${QUEUE_UNAVAILABLE_RETRY_AFTER_SECONDS} seconds, once Redis is back.`,
      { retryAfterSeconds: QUEUE_UNAVAILABLE_RETRY_AFTER_SECONDS },
    );
  }

  /** Adds a job whose id is `jobId`; adding the same id twice yields one job. */
  add<N extends JobName>(name: N, data: JobPayloads[N], jobId: string, opts: JobsOptions = {}) {
    return this.queue.add(name, data, {
      jobId,
      attempts: this.options.queue.attempts,
      backoff: { type: 'exponential', delay: this.options.queue.backoffMs },
      removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
      removeOnFail: { age: 30 * 24 * 3600 },
      ...opts,
    });
  }

  async state(jobId: string): Promise<string> {
    return this.queue.getJobState(jobId);
  }

  async remove(jobId: string): Promise<void> {
    const job = await this.queue.getJob(jobId);
    if (job && !(await job.isActive())) await job.remove().catch(() => undefined);
  }

  counts() {
    return this.queue.getJobCounts('active', 'waiting', 'delayed', 'failed', 'completed', 'prioritized');
  }

  async onApplicationShutdown(): Promise<void> {
    // The shared connection is closed by RedisConnections, after this.
    await this.queue.close();
  }
}

/** Resolves true once `redis` is ready, or to the error (or time-out) that came first. */
function firstAnswer(redis: Redis, timeoutMs: number): Promise<true | Error> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (v: true | Error) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      resolve(v);
    };
    const onReady = () => done(true);
    const onError = (err: Error) => done(err);
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    redis.on('ready', onReady);
    redis.on('error', onError);
    if (redis.status === 'wait') redis.connect().catch(() => undefined);
  });
}

/** Redis's `maxmemory-policy`, or the error that kept us from reading it (within 10 s). */
export async function evictionPolicy(redis: Redis, timeoutMs = 10_000): Promise<string | Error> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const reply = (await Promise.race([
      redis.config('GET', 'maxmemory-policy'),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ])) as unknown as string[];
    const i = reply.indexOf('maxmemory-policy');
    return i >= 0 && reply[i + 1] ? reply[i + 1] : new Error('CONFIG GET returned no maxmemory-policy');
  } catch (err) {
    return err as Error;
  } finally {
    clearTimeout(timer);
  }
}
