import { InProcessJobsQueue } from '../queue/in-process-jobs-queue.js';
import type { JobInfo, JobsQueue } from '../queue/jobs-queue.service.js';
import { CliError, Exit } from './exit.js';
import type { Progress } from './progress.js';

/** How a job's state reads in a progress line. */
const STATE_LABEL: Partial<Record<JobInfo['state'], string>> = { waiting: 'QUEUED', prioritized: 'QUEUED', delayed: 'QUEUED', active: 'RUNNING' };

export interface WaitForJob<T> {
  progress: Progress;
  /** The byte count to show from the job's progress. */
  bytes: (progress: Record<string, unknown>) => number;
  /** The outcome once there is one (undefined: keep waiting). */
  settle: (job: JobInfo | undefined) => Promise<T | undefined>;
  /** What to say when a wait on a queue in Redis is interrupted. */
  stopped: () => string;
  signal: AbortSignal;
}

/**
 * Waits for job `jobId`, showing its progress, until `settle` returns a value. On a queue in
 * Redis `settle` is asked every poll, and SIGINT/SIGTERM leave the job to the queue
 * (Exit.Interrupted). In-process it is asked once every job has run (follow-ups such as the
 * verification after a backup included), and a signal aborts the jobs, which then settle.
 */
export async function waitForJob<T>(queue: JobsQueue, jobId: string, o: WaitForJob<T>): Promise<T> {
  const inline = queue instanceof InProcessJobsQueue ? queue : undefined;
  if (inline) o.signal.addEventListener('abort', () => inline.stop(o.signal.reason as Error), { once: true });
  for (;;) {
    const job = await queue.jobInfo(jobId).catch(() => undefined);
    if (job) o.progress.update(o.bytes(job.progress), STATE_LABEL[job.state] ?? job.state);
    if (!inline || !(await inline.busy())) {
      const done = await o.settle(job);
      if (done !== undefined) return done;
      if (inline) throw new CliError(`job ${jobId} ended without an outcome`, Exit.Failed);
    }
    if (!inline && o.signal.aborted) throw new CliError(o.stopped(), Exit.Interrupted);
    await Promise.race([new Promise((r) => setTimeout(r, 400)), ...(inline ? [inline.idle()] : [])]);
  }
}
