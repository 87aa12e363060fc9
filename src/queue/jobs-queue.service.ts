import type { JobName, JobPayloads } from './jobs.js';

/** Where a job is: BullMQ's states, and `unknown` for a job the queue no longer has. */
export type JobState = 'waiting' | 'prioritized' | 'delayed' | 'active' | 'waiting-children' | 'completed' | 'failed' | 'unknown';

/** What callers may know about one job. */
export interface JobInfo {
  id: string;
  name: JobName;
  state: JobState;
  /** The last value the handler reported through `ctx.updateProgress`. */
  progress: Record<string, unknown>;
  /** The handler's result once `completed`. */
  result?: unknown;
  /** The last error once `failed`. */
  failedReason?: string;
  attemptsMade: number;
}

/** Jobs per state (the keys BullMQ's `getJobCounts` reports). */
export interface JobCounts {
  [state: string]: number;
  active: number;
  waiting: number;
  delayed: number;
  failed: number;
  completed: number;
  prioritized: number;
}

/** A process consuming the queue. */
export interface WorkerInfo {
  id?: string;
  name?: string;
  addr?: string;
  /** Seconds since it connected. */
  ageSeconds?: number;
  /** Seconds since its last command. */
  idleSeconds?: number;
}

export interface AddJobOptions {
  /** Tries before the job fails for good (default `queue.attempts`). */
  attempts?: number;
  /** Start no earlier than this many ms from now. */
  delay?: number;
}

/**
 * The job queue as the library sees it: producers add jobs by id, readers ask about them. Two
 * drivers: BullMQ on Redis (`BullJobsQueue`), and an in-process one that runs each job here at
 * once (`InProcessJobsQueue`, for the CLI's `--inline` and for unit tests). Nothing outside the
 * BullMQ driver and worker sees a BullMQ object. Also the DI token.
 */
export abstract class JobsQueue {
  /** Adds a job whose id is `jobId`; adding the same id twice yields one job. */
  abstract add<N extends JobName>(name: N, data: JobPayloads[N], jobId: string, opts?: AddJobOptions): Promise<void>;
  /** Removes a job that is not running. @returns whether a job was removed. */
  abstract remove(jobId: string): Promise<boolean>;
  /** The job, or undefined when the queue does not have it (never added, or removed). */
  abstract jobInfo(jobId: string): Promise<JobInfo | undefined>;
  abstract counts(): Promise<JobCounts>;
  /** The processes consuming the queue right now. */
  abstract workers(): Promise<WorkerInfo[]>;
}
