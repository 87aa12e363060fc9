import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { EventEmitter2 } from '@nestjs/event-emitter';
import { readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_EVENTS } from '../src/common/app-events.js';
import { JobsQueue, type JobInfo } from '../src/queue/jobs-queue.service.js';
import { VerifyEvents } from '../src/restore/restore-events.js';
import { api, waitForSettled } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { childrenRunning } from './support/processes.js';

/**
 * Two verifications of one backup at once (a worker with concurrency 2; two worker processes
 * race the same way): a drill that read the artifact while it was good must not finish after a
 * later check found it damaged and call it VERIFIED again; nor may a verification write to, or
 * tell about, a backup deleted while it ran.
 *
 * The drill is held still by stopping its psql (SIGSTOP) once it runs: the worker then holds the
 * artifact open, and the test moves on from states it can see, never from a sleep.
 */
describe('verifications of the same backup', () => {
  let t: TestApp;
  let db: string;
  const stopped = new Set<number>();
  const heard: Array<{ name: string; id: string }> = [];

  beforeAll(async () => {
    db = await createPgDatabase('verifyrace');
    // Some MB of artifact: more than the pipes and stream buffers between the file and psql hold,
    // so a stopped drill keeps the file open.
    await pgQuery(
      db,
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 200000) g;`,
    );
    t = await startTestApp({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`, WORKER_CONCURRENCY: '2' });
    const events = t.app.get<EventEmitter2>(APP_EVENTS);
    for (const name of [VerifyEvents.Verified, VerifyEvents.Corrupted])
      events.on(name, (e: { record: { id: string } }) => heard.push({ name, id: e.record.id }));
  }, 60_000);

  afterEach(() => {
    for (const pid of stopped) resume(pid);
  });

  afterAll(async () => {
    await t?.close();
    if (db) await dropPgDatabase(db);
  });

  const get = async (id: string) => (await api(t, 'GET', `/api/v1/backups/${id}`)).body;
  const job = async (id: string) => (await t.app.get(JobsQueue).jobInfo(id)) as JobInfo;
  const ended = async (id: string) => ((j) => ['completed', 'failed'].includes(j?.state) && j)(await job(id));
  const verify = async (id: string, drill: boolean): Promise<string> => {
    const r = await api(t, 'POST', `/api/v1/backups/${id}/verify`, { body: { drill } });
    expect(r.status).toBe(202);
    return r.body.jobId;
  };
  const resume = (pid: number) => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      /* gone */
    }
    stopped.delete(pid);
  };

  /** A backup of the target, settled (its verification after the backup VERIFIED it). */
  async function backup(): Promise<{ id: string; file: string }> {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', format: 'plain' } });
    expect(r.status).toBe(202);
    const b = await waitForSettled(t, r.body.id);
    expect(b.status).toBe('VERIFIED');
    return { id: b.id, file: join(t.dataDir, 'backups', b.fileKey) };
  }

  /** Starts a drill of `id` and stops it once its psql runs, with the artifact open in this process. */
  async function stoppedDrill(id: string, file: string): Promise<{ jobId: string; psql: number }> {
    const jobId = await verify(id, true);
    let psql: number | undefined;
    const deadline = Date.now() + 30_000;
    while (psql === undefined && Date.now() < deadline) {
      psql = childrenRunning(process.pid, 'psql')[0];
      if (psql === undefined) await new Promise((r) => setImmediate(r));
    }
    if (psql === undefined) throw new Error(`the drill never started psql: ${JSON.stringify(await job(jobId))}`);
    process.kill(psql, 'SIGSTOP');
    stopped.add(psql);
    const open = () =>
      readdirSync('/proc/self/fd').some((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === file;
        } catch {
          return false;
        }
      });
    await waitFor(
      async () => open(),
      'the drill to hold the artifact open (a drill that read it all already: make the table bigger)',
      5_000,
      20,
    );
    return { jobId, psql };
  }

  it('ends CORRUPTED when a drill that read the good artifact finishes after a check found it damaged', async () => {
    const { id, file } = await backup();
    const a = await stoppedDrill(id, file);

    // The artifact is damaged under the running drill: a truncated copy takes its name; the
    // drill's open descriptor still reads the old bytes.
    const bytes = readFileSync(file);
    writeFileSync(`${file}.damaged`, bytes.subarray(0, bytes.length >> 1));
    renameSync(`${file}.damaged`, file);

    const b = await verify(id, false);
    // B either ran to its end while A was stopped, or waits for A.
    await waitFor(
      async () => (await ended(b)) || (await job(b))?.progress?.waitingFor,
      'the second verification to end or to wait for the drill',
      30_000,
      50,
    );
    resume(a.psql);
    const [ja, jb] = await Promise.all([
      waitFor(() => ended(a.jobId), 'the drill', 30_000),
      waitFor(() => ended(b), 'the basic verification', 30_000),
    ]);

    expect(ja.result).toMatchObject({ kind: 'drill', ok: true });
    expect(jb.result).toMatchObject({ kind: 'basic', ok: false });
    const rec = await get(id);
    expect(rec.status).toBe('CORRUPTED');
    expect(rec.errorMessage).toMatch(/truncated or replaced/);
    expect(rec.metadata.verification).toMatchObject({ kind: 'basic', ok: false });
  }, 60_000);

  it.each([
    ['soft', false],
    ['hard', true],
  ])(
    'neither writes to nor tells about a backup %s-deleted while its drill ran',
    async (_kind, hard) => {
      const { id, file } = await backup();
      const before = await get(id);
      const a = await stoppedDrill(id, file);
      const mark = heard.length;
      const del = await api(t, 'DELETE', `/api/v1/backups/${id}${hard ? '?hard=true' : ''}`);
      expect(del.status).toBe(200);
      resume(a.psql);
      const ja = await waitFor(() => ended(a.jobId), 'the drill', 30_000);

      const rec = await get(id);
      expect(rec.deletedAt).not.toBeNull();
      expect({ status: rec.status, verifiedAt: rec.verifiedAt, metadata: rec.metadata }).toEqual({
        status: before.status,
        verifiedAt: before.verifiedAt,
        metadata: before.metadata,
      });
      expect(heard.slice(mark).filter((e) => e.id === id)).toEqual([]);
      expect(ja).toMatchObject({
        state: 'completed',
        result: { skipped: 'the backup was deleted while it was verified; nothing was recorded' },
      });
    },
    60_000,
  );
});
