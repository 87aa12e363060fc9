import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { JOBS_QUEUE, type JobName, type JobPayloads } from './jobs.js';
import { JobsQueue, type AddJobOptions, type JobCounts, type JobInfo, type JobState, type WorkerInfo } from './jobs-queue.service.js';
import { REDIS } from '../common/redis.js';
import { isConnectionError, RedisWatch } from './redis-watch.js';

/** The jobs queue on BullMQ. Start-up checks that Redis will not evict its keys. */
@Injectable()
export class BullJobsQueue extends JobsQueue implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JobsQueue');
  private readonly queue: Queue;

  /** Every Redis connection to this address in the process reports here (one warning, with backoff). */
  private readonly watch: RedisWatch;

  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @Inject(REDIS) private readonly redis: Redis,
  ) {
    super();
    this.watch = RedisWatch.for(options.redisUrl);
    this.queue = new Queue(JOBS_QUEUE, { connection: redis, prefix: options.queuePrefix });
    // Without a listener, BullMQ prints every failed reconnection's stack trace to the console.
    this.queue.on('error', (err) => (isConnectionError(err) ? this.watch.failed(err) : this.logger.error(`queue error: ${err.message}`)));
  }

  /**
   * Refuses to start on a Redis that may evict keys: an evicted job, lock or record of a retry
   * loses work without a trace. `REDIS_ALLOW_EVICTION=true` (queue.allowEviction) downgrades the
   * refusal to a loud warning; where `CONFIG GET` is not allowed (managed Redis) it only warns.
   * A Redis that does not answer within a few seconds does not hold start-up: it is checked when
   * it comes back (and jobs are refused meanwhile).
   */
  async onModuleInit(): Promise<void> {
    this.redis.on('ready', () => void this.checkEviction(false).catch(() => undefined));
    const first = await firstAnswer(this.redis, FIRST_CONNECT_WAIT_MS);
    if (first !== true) {
      this.watch.failed(first);
      return;
    }
    await this.checkEviction(true);
  }

  private async checkEviction(atStartup: boolean): Promise<void> {
    const policy = await evictionPolicy(this.redis);
    this.watch.refusal = undefined;
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
    this.watch.refusal = `Redis maxmemory-policy is "${policy}", not "noeviction"`;
    this.logger.error(`${msg}, or set REDIS_ALLOW_EVICTION=true (queue.allowEviction). Jobs are refused until then.`);
  }

  async add<N extends JobName>(name: N, data: JobPayloads[N], jobId: string, opts: AddJobOptions = {}): Promise<void> {
    await this.queue.add(name, data, {
      jobId,
      attempts: opts.attempts ?? this.options.queue.attempts,
      backoff: { type: 'exponential', delay: this.options.queue.backoffMs },
      removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
      removeOnFail: { age: 30 * 24 * 3600 },
      ...(opts.delay ? { delay: opts.delay } : {}),
    });
  }

  async remove(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job || (await job.isActive())) return false;
    return job.remove().then(
      () => true,
      () => false,
    );
  }

  async jobInfo(jobId: string): Promise<JobInfo | undefined> {
    // The state first: a job read after it is seen finished carries its result (read the other
    // way round, a job that finishes in between would be "completed" without one).
    const state = (await this.queue.getJobState(jobId)) as JobState;
    const job = state === 'unknown' ? undefined : await this.queue.getJob(jobId);
    if (!job) return undefined;
    const progress = job.progress;
    return {
      id: jobId,
      name: job.name as JobName,
      state,
      progress: progress && typeof progress === 'object' ? (progress as Record<string, unknown>) : {},
      result: job.returnvalue ?? undefined,
      failedReason: job.failedReason || undefined,
      attemptsMade: job.attemptsMade,
    };
  }

  async counts(): Promise<JobCounts> {
    const c = await this.queue.getJobCounts('active', 'waiting', 'delayed', 'failed', 'completed', 'prioritized');
    return { active: 0, waiting: 0, delayed: 0, failed: 0, completed: 0, prioritized: 0, ...c };
  }

  async workers(): Promise<WorkerInfo[]> {
    return (await this.queue.getWorkers()).map((w) => ({ id: w.id, name: w.name, addr: w.addr, ageSeconds: Number(w.age), idleSeconds: Number(w.idle) }));
  }

  async onApplicationShutdown(): Promise<void> {
    // The connection is shared (REDIS); RedisCloser ends it.
    await this.queue.close();
  }
}

/** How long start-up waits for a first answer from Redis before going on without it. */
const FIRST_CONNECT_WAIT_MS = 3_000;

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
