import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { JobsWorker } from './jobs-worker.service.js';
import { JobsQueue, type JobCounts, type JobInfo, type WorkerInfo } from './jobs-queue.service.js';
import type { JobName, JobPayloads } from './jobs.js';

interface Entry {
  info: JobInfo;
  data: unknown;
}

/**
 * The jobs queue without Redis: each job runs in this process as soon as it is added (after the
 * adding call returns), one at a time in the order added, one attempt each, with the handlers
 * registered on `JobsWorker`. Jobs a handler adds (the verification after a backup) run next.
 * Serves the CLI's `--inline` and unit tests; state lives as long as the process.
 */
@Injectable()
export class InProcessJobsQueue extends JobsQueue implements OnApplicationShutdown {
  private readonly jobs = new Map<string, Entry>();
  private readonly pending: string[] = [];
  private readonly abort = new AbortController();
  private running?: Promise<void>;

  constructor(private readonly worker: JobsWorker) {
    super();
  }

  async add<N extends JobName>(name: N, data: JobPayloads[N], jobId: string): Promise<void> {
    if (this.jobs.has(jobId)) return;
    this.jobs.set(jobId, { info: { id: jobId, name, state: 'waiting', progress: {}, attemptsMade: 0 }, data });
    this.pending.push(jobId);
    this.running ??= new Promise<void>((r) => setImmediate(r)).then(() => this.runAll());
  }

  async remove(jobId: string): Promise<boolean> {
    const i = this.pending.indexOf(jobId);
    if (i < 0) return false;
    this.pending.splice(i, 1);
    return this.jobs.delete(jobId);
  }

  async jobInfo(jobId: string): Promise<JobInfo | undefined> {
    const e = this.jobs.get(jobId);
    return e && { ...e.info };
  }

  async counts(): Promise<JobCounts> {
    const c: JobCounts = { active: 0, waiting: 0, delayed: 0, failed: 0, completed: 0, prioritized: 0 };
    for (const { info } of this.jobs.values()) if (info.state in c) c[info.state] += 1;
    return c;
  }

  /** This process, while it has jobs to run. */
  async workers(): Promise<WorkerInfo[]> {
    return this.running ? [{ name: 'in-process' }] : [];
  }

  /** Whether a job waits or runs. */
  async busy(): Promise<boolean> {
    return !!this.running;
  }

  /** Resolves once no job waits or runs. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Aborts the running job (its handler sees `ctx.signal`) and fails the waiting ones. */
  stop(reason: Error): void {
    this.abort.abort(reason);
  }

  private async runAll(): Promise<void> {
    try {
      for (let id = this.pending.shift(); id; id = this.pending.shift()) await this.runOne(this.jobs.get(id)!);
    } finally {
      this.running = undefined;
    }
  }

  private async runOne({ info, data }: Entry): Promise<void> {
    const handler = this.worker.handlerFor(info.name);
    if (this.abort.signal.aborted || !handler) {
      Object.assign(info, { state: 'failed', failedReason: handler ? `not run: ${String((this.abort.signal.reason as Error)?.message ?? 'stopped')}` : `No handler for job ${info.name}` });
      return;
    }
    info.state = 'active';
    info.attemptsMade = 1;
    try {
      info.result = await handler(data as never, {
        signal: this.abort.signal,
        attemptsMade: 0,
        maxAttempts: 1,
        updateProgress: async (p) => {
          info.progress = { ...p };
        },
        stillOwned: async () => true,
      });
      info.state = 'completed';
    } catch (err) {
      info.state = 'failed';
      info.failedReason = (err as Error)?.message ?? String(err);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stop(new Error('shutdown'));
    await this.idle();
  }
}
