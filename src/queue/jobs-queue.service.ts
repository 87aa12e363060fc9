import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { REDIS } from '../common/redis.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { JOBS_QUEUE, type JobName, type JobPayloads } from './jobs.js';

/** Producer facade over the jobs queue. Start-up checks that Redis will not evict its keys. */
@Injectable()
export class JobsQueue implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JobsQueue');
  readonly queue: Queue;

  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @Inject(REDIS) readonly connection: Redis,
  ) {
    this.queue = new Queue(JOBS_QUEUE, { connection: this.connection, prefix: options.queuePrefix });
  }

  /**
   * Refuses to start on a Redis that may evict keys: an evicted job, lock or record of a retry
   * loses work without a trace. `REDIS_ALLOW_EVICTION=true` (queue.allowEviction) downgrades the
   * refusal to a loud warning; where `CONFIG GET` is not allowed (managed Redis) it only warns.
   */
  async onModuleInit(): Promise<void> {
    const policy = await evictionPolicy(this.connection);
    if (policy === 'noeviction') return;
    if (policy instanceof Error) {
      this.logger.warn(
        `IMPORTANT: could not read Redis maxmemory-policy (${policy.message}); it must be "noeviction", or Redis may silently drop queued jobs and locks. Check it with your Redis provider.`,
      );
      return;
    }
    const msg = `Redis maxmemory-policy is "${policy}"; it must be "noeviction", or Redis may silently drop queued jobs and locks when memory runs short. Set it with CONFIG SET maxmemory-policy noeviction (or in redis.conf)`;
    if (!this.options.queue.allowEviction) throw new Error(`${msg}, or start with REDIS_ALLOW_EVICTION=true to run anyway.`);
    this.logger.warn(`IMPORTANT: ${msg}. Running anyway because REDIS_ALLOW_EVICTION=true.`);
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
