/** The one BullMQ queue; job kinds are told apart by name. */
export const JOBS_QUEUE = 'jobs';

export enum JobName {
  Backup = 'backup',
  Restore = 'restore',
  Verify = 'verify',
  /** Copies a backup from a destination that holds it into one that lost or never got it. */
  Recopy = 'recopy',
}

/** Job payloads carry ids only: never credentials, never paths from a request. */
export interface JobPayloads {
  [JobName.Backup]: { recordId: string };
  [JobName.Restore]: { runId: string };
  /** `drill`: also restore into a throwaway database and compare tables and row counts. */
  [JobName.Verify]: { backupId: string; drill: boolean; requestedBy?: string };
  [JobName.Recopy]: { backupId: string; storage: string };
}

export interface JobContext {
  /** Aborted when the process shuts down past its grace period. */
  signal: AbortSignal;
  attemptsMade: number;
  maxAttempts: number;
  updateProgress(progress: Record<string, number | string | null>): Promise<void>;
  /** Fencing: resolves false when this worker no longer owns the job (its lock expired). */
  stillOwned(): Promise<boolean>;
}

export type JobHandler<N extends JobName> = (data: JobPayloads[N], ctx: JobContext) => Promise<unknown>;

/**
 * Thrown by a handler whose job must not be tried again (a bad password, an unknown database, a
 * record that does not exist): the queue fails it for good, whatever attempts are left.
 */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}

/**
 * Thrown by a handler whose job was cut short by a shutdown and says nothing about its subject
 * (e.g. a verification): the job goes back to the queue, without using up an attempt, for
 * another worker to run.
 */
export class JobInterruptedError extends Error {
  override readonly name = 'JobInterruptedError';
}
