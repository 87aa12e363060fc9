import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { isConnectionError, RedisWatch } from './redis-watch.js';
import { sweepDeadSecretDirs } from '../common/secure-fs.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { JobInterruptedError, JobName, JOBS_QUEUE, PermanentJobError, type JobContext, type JobHandler } from './jobs.js';

/**
 * Runs the jobs queue in this process when workers are enabled. Modules register one handler per
 * job name; start-up fails if a job name has none. On shutdown it stops taking jobs, lets the
 * running ones finish for the grace period, then aborts them (their jobs are retried elsewhere;
 * a handler that throws `JobInterruptedError` has its job queued again at once).
 */
@Injectable()
export class JobsWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('JobsWorker');
  private readonly handlers = new Map<JobName, JobHandler<JobName>>();
  private readonly running = new Map<string, AbortController>();
  private worker?: Worker;
  private sweeper?: NodeJS.Timeout;

  constructor(@Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions) {}

  register<N extends JobName>(name: N, handler: JobHandler<N>): void {
    if (this.handlers.has(name)) throw new Error(`Job ${name} has two handlers`);
    this.handlers.set(name, handler as unknown as JobHandler<JobName>);
  }

  /** The handler registered for `name` (the in-process queue runs jobs with it). */
  handlerFor(name: JobName): JobHandler<JobName> | undefined {
    return this.handlers.get(name);
  }

  get isRunning(): boolean {
    return !!this.worker?.isRunning();
  }

  onApplicationBootstrap(): void {
    if (!this.options.workers) return;
    const missing = Object.values(JobName).filter((n) => !this.handlers.has(n));
    if (missing.length) throw new Error(`No handler registered for job(s): ${missing.join(', ')}`);
    const q = this.options.queue;
    // Credential files and unpacked archives a crashed worker of this host left behind (its
    // finally never ran): now, and every stalled-check interval (a worker may die after this one started).
    const sweep = () => void sweepDeadSecretDirs(this.options.tempDir).catch(() => undefined);
    sweep();
    this.sweeper = setInterval(sweep, q.stalledIntervalMs);
    this.sweeper.unref();
    this.worker = new Worker(JOBS_QUEUE, (job, token) => this.process(job, token), {
      connection: { url: this.options.redisUrl, maxRetriesPerRequest: null },
      prefix: this.options.queuePrefix,
      concurrency: q.concurrency,
      lockDuration: q.lockDurationMs,
      stalledInterval: q.stalledIntervalMs,
      maxStalledCount: 2,
    });
    // Connection errors (Redis down) become the one warning with backoff; others are logged.
    const redis = RedisWatch.for(this.options.redisUrl);
    this.worker.on('error', (err) => (isConnectionError(err) ? redis.failed(err) : this.logger.error(`worker error: ${err.message}`)));
    this.logger.log(`worker started (queue prefix ${this.options.queuePrefix}, concurrency ${q.concurrency})`);
  }

  private async process(job: Job, token?: string): Promise<unknown> {
    const handler = this.handlers.get(job.name as JobName);
    if (!handler) throw new UnrecoverableError(`Unknown job name ${job.name}`);
    const abort = new AbortController();
    this.running.set(job.id!, abort);
    const ctx: JobContext = {
      signal: abort.signal,
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
      updateProgress: (p) => job.updateProgress(p).catch(() => undefined),
      stillOwned: async () => {
        if (!token) return true;
        try {
          return (await job.extendLock(token, this.options.queue.lockDurationMs)) > 0;
        } catch {
          return false;
        }
      },
    };
    try {
      return await handler(job.data, ctx);
    } catch (err) {
      if (err instanceof PermanentJobError) throw new UnrecoverableError(err.message);
      if (!(err instanceof JobInterruptedError) || !token) throw err;
      // Back to the queue for another worker; a delayed job keeps its attempts.
      await job.moveToDelayed(Date.now() + this.options.queue.backoffMs, token);
      this.logger.warn(`job ${job.id} (${job.name}) was interrupted by the shutdown and queued again: ${err.message}`);
      throw new DelayedError();
    } finally {
      this.running.delete(job.id!);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    if (!this.worker) return;
    const draining = this.running.size;
    this.logger.log(
      draining ? `stopping: no new jobs; draining ${draining} running job(s) for up to ${this.options.shutdownGraceMs} ms` : 'stopping: no new jobs; none running',
    );
    const closing = this.worker.close();
    const grace = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), this.options.shutdownGraceMs).unref());
    if ((await Promise.race([closing.then(() => 'closed' as const), grace])) === 'timeout') {
      this.logger.warn(`aborting ${this.running.size} running job(s) after the ${this.options.shutdownGraceMs} ms grace period`);
      for (const a of this.running.values()) a.abort('shutdown');
      const hard = new Promise<void>((r) => setTimeout(r, 15_000).unref());
      await Promise.race([closing, hard]);
    } else if (draining) {
      this.logger.log(`drained: the ${draining} running job(s) finished`);
    }
  }
}
