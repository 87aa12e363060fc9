// @serial fault suite: kills, freezes and restarts processes and servers, and counts every dump client on the machine
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { JobsQueue } from '../../src/queue/jobs-queue.service.js';
import { api } from '../support/api.js';
import { startTestApp, waitFor, type TestApp } from '../support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from '../support/pg.js';

/**
 * The verification that follows every backup is a job of its own: it can be lost (Redis restarted
 * without persistence, or its workers killed until BullMQ gives it up). The backup must not stay
 * unverified for ever: the reconciler queues the verification again.
 */
describe('a completed backup whose verification job was lost', () => {
  let t: TestApp;
  let db: string;
  let catalog: Database.Database;

  beforeAll(async () => {
    db = await createPgDatabase('lostverify');
    await pgQuery(db, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g;`);
    t = await startTestApp({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`, JOB_LOCK_DURATION_MS: '2000', JOB_STALLED_INTERVAL_MS: '1000' });
    catalog = new Database(join(t.dataDir, 'catalog.sqlite'));
  }, 60_000);

  afterAll(async () => {
    catalog?.close();
    await t?.close();
    if (db) await dropPgDatabase(db);
  });

  const get = async (id: string) => (await api(t, 'GET', `/api/v1/backups/${id}`)).body;

  it('is verified again once its job is gone from the queue', async () => {
    const { id } = (await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } })).body;
    const first = await waitFor(async () => ((b) => b.status === 'VERIFIED' && b)(await get(id)), 'the first verification');

    // The state a lost job leaves: the backup COMPLETED, its verification job nowhere in Redis.
    catalog.prepare('UPDATE bm_backup_records SET status = ?, verifiedAt = NULL WHERE id = ?').run('COMPLETED', id);
    expect(await t.app.get(JobsQueue).remove(`verify-${id}-after-backup`)).toBe(true);
    expect((await get(id)).status).toBe('COMPLETED');

    const again = await waitFor(async () => ((b) => b.status !== 'COMPLETED' && b)(await get(id)), 'a new verification', 60_000);
    expect(again.status).toBe('VERIFIED');
    expect(again.metadata.verifyRequeues).toBe(1);
    expect(new Date(again.metadata.verification.at).getTime()).toBeGreaterThan(new Date(first.metadata.verification.at).getTime());
    expect((await t.app.get(JobsQueue).jobInfo(`verify-${id}-requeue-1`))?.state).toBe('completed');
  }, 120_000);

  it('leaves a backup alone whose verification job ran to its end', async () => {
    const { id } = (await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } })).body;
    await waitFor(async () => ((b) => b.status === 'VERIFIED' && b)(await get(id)), 'the verification');
    // Put back to COMPLETED behind the service's back: the finished job's verdict stands.
    catalog.prepare('UPDATE bm_backup_records SET status = ?, verifiedAt = NULL WHERE id = ?').run('COMPLETED', id);
    await new Promise((r) => setTimeout(r, 8000)); // four lock durations: the reconciler ran several times
    const b = await get(id);
    expect(b.status).toBe('COMPLETED');
    expect(b.metadata.verifyRequeues).toBeUndefined();
  }, 60_000);
});
