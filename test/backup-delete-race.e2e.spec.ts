import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BackupReconciler } from '../src/backup/backup-reconciler.service.js';
import { JobsQueue } from '../src/queue/jobs-queue.service.js';
import { api } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { startProcess, type Proc } from './support/processes.js';

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

const TYPES = ['manual', 'daily', 'weekly', 'monthly'];
const COMPRESSIONS = ['zstd', 'gzip', 'none'];
const FORMATS = ['plain', 'custom'];
/** Milliseconds after the requests at which each record gets a DELETE: around the moments workers pick jobs up. */
const OFFSETS = [0, 2, 4, 6, 8, 11, 14, 18, 24, 32, 45, 60];

/**
 * Issue 12, item 7: deleting a QUEUED backup just as a worker picks it up. Whatever the timing, no
 * record stays QUEUED or RUNNING; a deleted one ends CANCELLED with no file left (or, when it
 * completed first, stays soft-deleted with its file, as a soft delete does); storage holds only the
 * artifacts and manifests of completed records.
 */
describe('deleting backups while workers pick them up', () => {
  let t: TestApp;
  let db: string;
  let worker: Proc;

  beforeAll(async () => {
    db = await createPgDatabase('delrace');
    await pgQuery(db, 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;');
    t = await startTestApp({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`, WORKER_CONCURRENCY: '2' });
    // A second worker process: pick-ups happen in parallel with the API's deletes, not only interleaved on one event loop.
    worker = startProcess('worker', { ...t.env, WORKER_CONCURRENCY: '2', LOG_LEVEL: 'warn' });
    await waitFor(async () => (await t.app.get(JobsQueue).workers()).length >= 2, 'two workers', 30_000);
  }, 60_000);

  afterAll(async () => {
    worker?.child.kill('SIGTERM');
    if (worker) await Promise.race([worker.exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await t?.close();
    if (db) await dropPgDatabase(db);
  }, 30_000);

  it('leaves no record QUEUED or RUNNING and no file of a cancelled record', async () => {
    const deletes = new Map<string, number[]>();
    const specs = TYPES.flatMap((type) => COMPRESSIONS.flatMap((compression) => FORMATS.map((format) => ({ type, compression, format }))));
    // All requests at once, then every record's DELETEs at staggered offsets, all in parallel: with
    // 24 jobs and 4 worker slots, some DELETEs find a record still QUEUED, some land as a worker picks
    // it up, some while it runs or after it completed; every one of those interleavings must end well.
    const ids = await Promise.all(
      specs.map(async (spec) => {
        const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', ...spec } });
        expect(created.status).toBe(202);
        return created.body.id as string;
      }),
    );
    await Promise.all(
      ids.map(async (id) => {
        const statuses = await Promise.all(
          OFFSETS.map(async (ms) => {
            await new Promise((r) => setTimeout(r, ms));
            return (await api(t, 'DELETE', `/api/v1/backups/${id}`)).status;
          }),
        );
        // 200 deleted it; 404: an earlier DELETE already had; 409: it was running.
        expect(statuses.filter((s) => ![200, 404, 409].includes(s))).toEqual([]);
        deletes.set(id, statuses);
      }),
    );

    const all = async () => (await api(t, 'GET', '/api/v1/backups?includeDeleted=true&limit=100')).body.items as any[];
    await waitFor(async () => (await all()).every((r) => !['QUEUED', 'RUNNING'].includes(r.status)), 'every record to leave QUEUED/RUNNING', 60_000).catch(() => undefined);
    const records = await all();
    expect(records).toHaveLength(specs.length);
    expect(records.filter((r) => ['QUEUED', 'RUNNING'].includes(r.status)).map((r) => `${r.id} ${r.status} deleted=${!!r.deletedAt}`)).toEqual([]);

    for (const r of records) {
      const deleted = deletes.get(r.id)!.includes(200);
      if (!deleted) {
        // Every DELETE came too late (409: running): the backup ran and is not deleted.
        expect({ id: r.id, deletedAt: r.deletedAt, good: ['COMPLETED', 'VERIFIED'].includes(r.status) }).toEqual({ id: r.id, deletedAt: null, good: true });
        continue;
      }
      expect(r.deletedAt).not.toBeNull();
      if (r.status !== 'CANCELLED') {
        // It completed before the delete took hold: a soft delete keeps the file.
        expect({ id: r.id, status: r.status, fileExists: (await api(t, 'GET', `/api/v1/backups/${r.id}`)).body.fileExists }).toEqual({ id: r.id, status: expect.stringMatching(/^(COMPLETED|VERIFIED)$/), fileExists: true });
      }
    }
    // More jobs than worker slots: the last ones requested were still QUEUED when their first DELETE came.
    expect(records.filter((r) => r.status === 'CANCELLED').length).toBeGreaterThan(0);

    // Storage: exactly the artifacts and manifests of completed records; nothing of a cancelled one, no partial.
    const expected = records
      .filter((r) => ['COMPLETED', 'VERIFIED'].includes(r.status))
      .flatMap((r) => [r.fileKey, `${r.fileKey}.manifest.json`])
      .sort();
    await waitFor(async () => JSON.stringify(filesUnder(t.config.options.storageDir)) === JSON.stringify(expected), 'storage to hold only completed artifacts', 15_000).catch(() => undefined);
    expect(filesUnder(t.config.options.storageDir)).toEqual(expected);
  }, 300_000);

  it('the reconciler sees soft-deleted records: one left QUEUED with its artifact (as before the fix) ends CANCELLED, its files gone', async () => {
    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', description: 'left behind' } });
    const done = await waitFor(async () => {
      const r = (await api(t, 'GET', `/api/v1/backups/${created.body.id}`)).body;
      return r.status === 'VERIFIED' ? r : undefined;
    }, 'the backup to be verified');
    const file = join(t.config.options.storageDir, done.fileKey);
    expect(existsSync(file)).toBe(true);
    // What the race used to leave: QUEUED, soft-deleted, its job finished, its artifact on disk.
    const old = new Date(Date.now() - 3600_000).toISOString().replace('T', ' ').replace('Z', '');
    const catalog = new Database(t.config.options.catalog.sqlitePath);
    try {
      catalog.prepare("UPDATE bm_backup_records SET status = 'QUEUED', deletedAt = ?, updatedAt = ? WHERE id = ?").run(old, old, done.id);
    } finally {
      catalog.close();
    }
    await t.app.get(BackupReconciler).reconcile();
    const after = (await api(t, 'GET', `/api/v1/backups/${done.id}`)).body;
    expect(after).toMatchObject({ status: 'CANCELLED', fileExists: false });
    expect(after.errorMessage).toMatch(/^Cancelled: the backup was deleted before it completed \(the job finished without committing this record\)$/);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.manifest.json`)).toBe(false);
  });
});
