import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { api, waitForSettled } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

/** Connections ever opened to `db` (PostgreSQL counts them in pg_stat_database once each ends). */
async function sessionsOf(db: string): Promise<number> {
  const [row] = await pgQuery<{ n: string }>('postgres', `SELECT pg_stat_clear_snapshot(), sessions::text AS n FROM pg_stat_database WHERE datname = $1`, [db]);
  return Number(row.n);
}

/** Waits until the count stops moving (a backend's exit is counted a moment after it closed). */
async function settledSessions(db: string): Promise<number> {
  let last = -1;
  return waitFor(async () => {
    const n = await sessionsOf(db);
    const same = n === last;
    last = n;
    return same ? n : undefined;
  }, `the session count of ${db} to settle`, 20_000, 700);
}

/**
 * What a full custom-format backup costs the server in connections: everything the dump needs
 * before pg_dump starts (server version, the catalog's tables to leave out, the shared snapshot)
 * is read on the snapshot's one connection. A DBA sees a backup as a handful of sessions, and
 * on a busy 2-core machine each one saved is ~25 ms before the first row is read.
 */
describe('a PostgreSQL backup, seen from the server', () => {
  let db: string;
  let t: TestApp;

  beforeAll(async () => {
    db = await createPgDatabase('conns');
    await pgQuery(db, `CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g`);
    t = await startTestApp({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}` });
    // The first backup also finds which pg_dump to run (cached by the worker): not measured.
    const first = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    expect(first.status).toBe(202);
    expect((await waitForSettled(t, first.body.id)).status).toBe('VERIFIED');
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    if (db) await dropPgDatabase(db);
  });

  it('opens four connections to the database: statistics, version, the snapshot and pg_dump, and records exact rows', async () => {
    const before = await settledSessions(db);
    const res = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    expect(res.status).toBe(202);
    // Counted once the verification after the backup is done too: it reads the artifact only.
    const done = await waitForSettled(t, res.body.id);
    expect(done.status).toBe('VERIFIED');
    const opened = (await settledSessions(db)) - before;
    expect(done.metadata.tableRows).toEqual({ items: 500 });
    expect(opened).toBe(4);
  }, 120_000);
});
