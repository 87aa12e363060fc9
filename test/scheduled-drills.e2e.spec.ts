// @serial checks that no bm_drill_ database is left on the whole PostgreSQL server
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { api, waitForBackup } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

describe('scheduled restore drills', () => {
  let t: TestApp;
  let db: string;

  beforeAll(async () => {
    db = await createPgDatabase('drillcron');
    await pgQuery(db, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g;`);
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      SCHEDULER_ENABLED: 'true',
      SCHEDULER_DEFAULT_PLANS: 'false',
      // Not before the backup below exists: the drill cron fires every 5 seconds.
      RESTORE_DRILL_CRON: '*/5 * * * * *',
      SCHEDULE_MIN_INTERVAL_MINUTES: '0',
    });
  });

  afterAll(async () => {
    await t?.close();
    await dropPgDatabase(db);
  });

  it('restores the newest good backup of each target into a throwaway database on the drill cron', async () => {
    const status = await api(t, 'GET', '/api/v1/scheduler/status', { token: t.token('viewer') });
    expect(status.body.drills.cron).toBe('*/5 * * * * *');
    expect(new Date(status.body.drills.nextRunAt).getTime()).toBeGreaterThan(Date.now() - 1000);

    const created = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    const done = await waitForBackup(t, created.body.id);
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    // Its retention policy (the default `standard`) sets expiresAt as soon as it completes.
    const expiring = await waitFor(async () => (await api(t, 'GET', `/api/v1/backups/${created.body.id}`)).body.expiresAt, 'expiresAt', 10_000);
    expect(new Date(expiring).getTime()).toBeGreaterThan(Date.now());
    const drilled = await waitFor(
      async () => {
        const r = await api(t, 'GET', `/api/v1/backups/${created.body.id}`);
        return r.body.metadata?.drill ? r.body : undefined;
      },
      'a scheduled drill',
      30_000,
    );
    expect(drilled.status).toBe('VERIFIED');
    expect(drilled.metadata.drill).toMatchObject({ kind: 'drill', ok: true, tables: 1, rows: 500 });
    // Throwaway databases do not pile up: between drills none is left.
    await waitFor(async () => (await pgQuery(db, `SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'bm_drill_%'`))[0].n === 0, 'no drill database left', 10_000, 100);
  }, 60_000);
});
