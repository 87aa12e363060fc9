import { describe, expect, it } from '@jest/globals';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { BackupRecord, BackupStatus, VERIFIABLE_BACKUP_STATUSES } from '../backup/entities/backup-record.entity.js';
import type { BackupManagerOptions } from '../config/options.js';
import { InProcessJobsQueue } from '../queue/in-process-jobs-queue.js';
import { JobsWorker } from '../queue/jobs-worker.service.js';
import { JobName } from '../queue/jobs.js';
import type { ArtifactStorage } from '../storage/storage.interface.js';
import { ArtifactLoader } from './artifact-loader.js';
import { EncryptionKeys } from '../codecs/encryption-keys.js';
import { TargetLock } from '../common/target-lock.js';
import { MemoryRedis } from '../queue/memory-redis.js';
import { VerifyEvents } from './restore-events.js';
import { Verifier } from './verifier.service.js';

/**
 * The verify job's handler, run by the in-process queue: the catalog is an in-memory table and
 * storage has no file, so nothing here needs PostgreSQL, Redis or a child process.
 */
function setup(rows: BackupRecord[]) {
  const table = new Map(rows.map((r) => [r.id, r]));
  const records = {
    findOne: async ({ where }: { where: { id: string } }) => table.get(where.id) ?? null,
    findOneByOrFail: async ({ id }: { id: string }) => table.get(id)!,
    // The compare-and-set the service asks for: only while the backup is still verifiable.
    update: async (where: { id: string }, patch: Partial<BackupRecord>) => {
      const r = table.get(where.id);
      if (!r || !VERIFIABLE_BACKUP_STATUSES.includes(r.status)) return { affected: 0 };
      Object.assign(r, patch);
      return { affected: 1 };
    },
  };
  const storage = { stat: async () => null } as unknown as ArtifactStorage;
  const options = { tempDir: '/tmp', workers: false, dump: { timeoutMs: 60_000 } } as unknown as BackupManagerOptions;
  const worker = new JobsWorker(options);
  const events = new EventEmitter2();
  const emitted: string[] = [];
  events.onAny((name) => emitted.push(String(name)));
  const none = undefined as never;
    const locks = new TargetLock(new MemoryRedis() as never, 'bm-unit', 60_000);
  new Verifier(records as never, none, none, new ArtifactLoader(storage, none, options, new EncryptionKeys(options)), worker, events, none, locks, options).onModuleInit();
  return { queue: new InProcessJobsQueue(worker), table, emitted };
}

const backup = (id: string, status: BackupStatus, extra: Partial<BackupRecord> = {}) =>
  ({ id, status, target: 'app', fileKey: `app/${id}.dump.zst`, checksum: 'ab', sizeBytes: 10, metadata: {}, deletedAt: null, ...extra }) as unknown as BackupRecord;

describe('the verify job on the in-process queue', () => {
  it('marks a backup whose artifact is gone CORRUPTED, with the reason as the job result and on the record', async () => {
    const { queue, table, emitted } = setup([backup('b1', BackupStatus.Completed)]);
    await queue.add(JobName.Verify, { backupId: 'b1', drill: false, requestedBy: 'system:after-backup' }, 'verify-b1');
    await queue.idle();
    const job = await queue.jobInfo('verify-b1');
    expect(job).toMatchObject({ state: 'completed', result: { kind: 'basic', ok: false, reason: 'the artifact app/b1.dump.zst is missing from storage', requestedBy: 'system:after-backup' } });
    expect(table.get('b1')).toMatchObject({ status: BackupStatus.Corrupted, errorMessage: 'the artifact app/b1.dump.zst is missing from storage' });
    expect(emitted).toEqual([VerifyEvents.Corrupted]);
  });

  it('skips a backup that is deleted, gone or not verifiable, and changes nothing', async () => {
    const { queue, table, emitted } = setup([backup('del', BackupStatus.Completed, { deletedAt: new Date() }), backup('run', BackupStatus.Running)]);
    await queue.add(JobName.Verify, { backupId: 'del', drill: false }, 'v-del');
    await queue.add(JobName.Verify, { backupId: 'nope', drill: false }, 'v-nope');
    await queue.add(JobName.Verify, { backupId: 'run', drill: false }, 'v-run');
    await queue.idle();
    expect((await queue.jobInfo('v-del'))?.result).toEqual({ skipped: 'the backup is gone' });
    expect((await queue.jobInfo('v-nope'))?.result).toEqual({ skipped: 'the backup is gone' });
    expect((await queue.jobInfo('v-run'))?.result).toEqual({ skipped: 'the backup is RUNNING' });
    expect([table.get('del')?.status, table.get('run')?.status]).toEqual([BackupStatus.Completed, BackupStatus.Running]);
    expect(emitted).toEqual([]);
  });
});
