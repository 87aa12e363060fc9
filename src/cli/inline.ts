import { Inject, Injectable, Module, type DynamicModule } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { randomUUID } from 'node:crypto';
import { AuditModule } from '../audit/audit.module.js';
import { BackupModule } from '../backup/backup.module.js';
import { REDIS } from '../common/redis.js';
import { BackupManagerCoreModule } from '../core.module.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { JobsWorker } from '../queue/jobs-worker.service.js';
import type { JobContext, JobHandler, JobName, JobPayloads } from '../queue/jobs.js';
import { RestoreModule } from '../restore/restore.module.js';
import { SchedulerModule } from '../scheduler/scheduler.module.js';

/**
 * The few Redis commands TargetLock uses (GET, SET NX PX, and its release/renew scripts), in
 * memory. NOTE: an inline run therefore does not share the database lock with a running service.
 */
export class MemoryRedis {
  private readonly keys = new Map<string, { value: string; expiresAt: number }>();

  async get(key: string): Promise<string | null> {
    const e = this.keys.get(key);
    if (!e || e.expiresAt <= Date.now()) return null;
    return e.value;
  }

  async set(key: string, value: string, ...args: Array<string | number>): Promise<'OK' | null> {
    const px = args.findIndex((a) => String(a).toUpperCase() === 'PX');
    const ttl = px >= 0 ? Number(args[px + 1]) : Number.MAX_SAFE_INTEGER;
    if (args.some((a) => String(a).toUpperCase() === 'NX') && (await this.get(key)) !== null) return null;
    this.keys.set(key, { value, expiresAt: Date.now() + ttl });
    return 'OK';
  }

  /** Compare-and-delete or compare-and-pexpire, the two scripts TargetLock runs. */
  async eval(script: string, _n: number, key: string, value: string, ttl?: string): Promise<number> {
    if ((await this.get(key)) !== value) return 0;
    if (script.includes('pexpire')) this.keys.get(key)!.expiresAt = Date.now() + Number(ttl);
    else this.keys.delete(key);
    return 1;
  }

  disconnect(): void {}
}

interface PendingJob {
  id: string;
  name: JobName;
  data: unknown;
}

/** Stands in for JobsQueue in an inline run: jobs wait in memory until `drain()` runs them here. */
@Injectable()
export class InlineJobsQueue {
  /** What the services read of the BullMQ queue outside of workers. */
  readonly queue = { getJob: async () => undefined, getWorkers: async () => [] };
  private readonly pending: PendingJob[] = [];

  constructor(
    private readonly worker: JobsWorker,
    @Inject(REDIS) readonly connection: MemoryRedis,
  ) {}

  async add<N extends JobName>(name: N, data: JobPayloads[N], jobId: string): Promise<{ id: string }> {
    if (!this.pending.some((j) => j.id === jobId)) this.pending.push({ id: jobId || randomUUID(), name, data });
    return { id: jobId };
  }

  async state(jobId: string): Promise<string> {
    return this.pending.some((j) => j.id === jobId) ? 'waiting' : 'unknown';
  }

  async remove(jobId: string): Promise<void> {
    const i = this.pending.findIndex((j) => j.id === jobId);
    if (i >= 0) this.pending.splice(i, 1);
  }

  async counts() {
    return { active: 0, waiting: this.pending.length, delayed: 0, failed: 0, completed: 0, prioritized: 0 };
  }

  /**
   * Runs every pending job (and the jobs they add, such as the verification after a backup) in
   * this process, one attempt each. @returns each job's outcome.
   */
  async drain(ctx: Pick<JobContext, 'signal' | 'updateProgress'>): Promise<Array<{ id: string; name: JobName; result?: unknown; error?: Error }>> {
    const outcomes: Array<{ id: string; name: JobName; result?: unknown; error?: Error }> = [];
    for (let job = this.pending.shift(); job; job = this.pending.shift()) {
      const handler = (this.worker as InlineJobsWorker).handlerFor(job.name);
      if (!handler) {
        outcomes.push({ id: job.id, name: job.name, error: new Error(`No handler for job ${job.name}`) });
        continue;
      }
      try {
        const result = await handler(job.data as never, { ...ctx, attemptsMade: 0, maxAttempts: 1, stillOwned: async () => true });
        outcomes.push({ id: job.id, name: job.name, result });
      } catch (error) {
        outcomes.push({ id: job.id, name: job.name, error: error as Error });
      }
    }
    return outcomes;
  }

  async onApplicationShutdown(): Promise<void> {}
}

/** JobsWorker that keeps the handlers for InlineJobsQueue and never connects to Redis. */
@Injectable()
export class InlineJobsWorker extends JobsWorker {
  private readonly inline = new Map<JobName, JobHandler<JobName>>();

  override register<N extends JobName>(name: N, handler: JobHandler<N>): void {
    super.register(name, handler);
    this.inline.set(name, handler as unknown as JobHandler<JobName>);
  }

  handlerFor(name: JobName): JobHandler<JobName> | undefined {
    return this.inline.get(name);
  }

  override onApplicationBootstrap(): void {}

  override async beforeApplicationShutdown(): Promise<void> {}
}

/**
 * The library without Redis, for `--inline` and for reading: catalog, storage, engines, backup,
 * restore, scheduler (services only) and audit modules, with the job queue replaced by an in-process one. No HTTP, no scheduler, no workers.
 */
@Module({})
export class InlineLibraryModule {
  static create(options: BackupManagerOptions): DynamicModule {
    return {
      module: InlineLibraryModule,
      imports: [
        BackupManagerCoreModule.register({
          providers: [{ provide: BACKUP_MANAGER_OPTIONS, useValue: { ...options, workers: false, scheduler: false, controllers: false } }],
          overrides: [
            { provide: JobsWorker, useClass: InlineJobsWorker },
            { provide: JobsQueue, useClass: InlineJobsQueue },
            { provide: REDIS, useFactory: () => new MemoryRedis() },
          ],
        }),
        EventEmitterModule.forRoot({ wildcard: true, delimiter: '.' }),
        BackupModule.register({ controllers: false }),
        RestoreModule.register({ controllers: false }),
        SchedulerModule.register({ controllers: false }),
        AuditModule.register({ controllers: false }),
      ],
    };
  }
}
