import { describe, expect, it } from '@jest/globals';
import type { BackupManagerOptions } from '../config/options.js';
import { InProcessJobsQueue } from './in-process-jobs-queue.js';
import { JobsWorker } from './jobs-worker.service.js';
import { JobName } from './jobs.js';

/** A worker that never starts BullMQ (workers: false), holding the handlers the queue runs. */
function setup() {
  const worker = new JobsWorker({ workers: false } as BackupManagerOptions);
  return { worker, queue: new InProcessJobsQueue(worker) };
}

describe('InProcessJobsQueue', () => {
  it('runs a backup handler at once, then the verification it queues, with progress and results readable by id', async () => {
    const { worker, queue } = setup();
    const order: string[] = [];
    worker.register(JobName.Backup, async ({ recordId }, ctx) => {
      order.push(`backup ${recordId}`);
      await ctx.updateProgress({ rawBytes: 4096, bytes: 512 });
      await queue.add(JobName.Verify, { backupId: recordId, drill: false }, `verify-${recordId}`);
      // The follow-up waits for this job: one job at a time, in order.
      expect((await queue.jobInfo(`verify-${recordId}`))?.state).toBe('waiting');
      return { fileKey: `${recordId}.dump.zst` };
    });
    worker.register(JobName.Verify, async ({ backupId }) => {
      order.push(`verify ${backupId}`);
      return { ok: true };
    });

    await queue.add(JobName.Backup, { recordId: 'b1' }, 'b1');
    // Added twice, run once (the same id is the same job, as on BullMQ).
    await queue.add(JobName.Backup, { recordId: 'b1' }, 'b1');
    expect(await queue.busy()).toBe(true);
    await queue.idle();

    expect(order).toEqual(['backup b1', 'verify b1']);
    expect(await queue.jobInfo('b1')).toMatchObject({ name: 'backup', state: 'completed', progress: { rawBytes: 4096 }, result: { fileKey: 'b1.dump.zst' }, attemptsMade: 1 });
    expect(await queue.jobInfo('verify-b1')).toMatchObject({ state: 'completed', result: { ok: true } });
    expect(await queue.counts()).toMatchObject({ completed: 2, waiting: 0, active: 0 });
    expect(await queue.jobInfo('nope')).toBeUndefined();
  });

  it('records a failing handler as failed with its message, and runs no job for a name without a handler', async () => {
    const { worker, queue } = setup();
    worker.register(JobName.Restore, async () => {
      throw new Error('pg_restore: could not connect');
    });
    await queue.add(JobName.Restore, { runId: 'r1' }, 'r1');
    await queue.add(JobName.Verify, { backupId: 'b1', drill: true }, 'v1');
    await queue.idle();
    expect(await queue.jobInfo('r1')).toMatchObject({ state: 'failed', failedReason: 'pg_restore: could not connect' });
    expect(await queue.jobInfo('v1')).toMatchObject({ state: 'failed', failedReason: 'No handler for job verify' });
  });

  it('stop() aborts the running handler through its signal and runs nothing after it', async () => {
    const { worker, queue } = setup();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    worker.register(JobName.Backup, (_, ctx) => {
      started();
      return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error(`aborted: ${(ctx.signal.reason as Error).message}`))));
    });
    await queue.add(JobName.Backup, { recordId: 'b1' }, 'b1');
    await queue.add(JobName.Backup, { recordId: 'b2' }, 'b2');
    await running;
    queue.stop(new Error('SIGINT'));
    await queue.idle();
    expect(await queue.jobInfo('b1')).toMatchObject({ state: 'failed', failedReason: 'aborted: SIGINT' });
    expect(await queue.jobInfo('b2')).toMatchObject({ state: 'failed', failedReason: 'not run: SIGINT' });
  });

  it('removes a waiting job, not a finished one', async () => {
    const { worker, queue } = setup();
    worker.register(JobName.Backup, async () => undefined);
    await queue.add(JobName.Backup, { recordId: 'b1' }, 'b1');
    expect(await queue.remove('b1')).toBe(true);
    await queue.idle();
    expect(await queue.jobInfo('b1')).toBeUndefined();
    await queue.add(JobName.Backup, { recordId: 'b2' }, 'b2');
    await queue.idle();
    expect(await queue.remove('b2')).toBe(false);
  });
});
