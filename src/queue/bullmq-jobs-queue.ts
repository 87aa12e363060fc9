import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { JOBS_QUEUE, type JobName, type JobPayloads } from './jobs.js';
import { JobsQueue, type AddJobOptions, type JobCounts, type JobInfo, type JobState, type WorkerInfo } from './jobs-queue.service.js';
import { REDIS } from '../common/redis.js';

/** The jobs queue on BullMQ. Start-up checks that Redis will not evict its keys. */
@Injectable()
export class BullJobsQueue extends JobsQueue implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JobsQueue');
  private readonly queue: Queue;

  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @Inject(REDIS) private readonly redis: Redis,
  ) {
    super();
    this.queue = new Queue(JOBS_QUEUE, { connection: redis, prefix: options.queuePrefix });
  }

  /**
   * Refuses to start on a Redis that may evict keys: an evicted job, lock or record of a retry
   * loses work without a trace. `REDIS_ALLOW_EVICTION=true` (queue.allowEviction) downgrades the
   * refusal to a loud warning; where `CONFIG GET` is not allowed (managed Redis) it only warns.
   */
  async onModuleInit(): Promise<void> {
    const policy = await evictionPolicy(this.redis);
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
