import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScheduleTicker } from '../src/scheduler/schedule-ticker.service.js';
import { api } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Three scheduler replicas on one catalog (PostgreSQL), one queue and one storage. */
describe('three scheduler replicas', () => {
  const apps: TestApp[] = [];
  let source: string;
  let catalog: string;
  let storage: string;

  beforeAll(async () => {
    source = await createPgDatabase('replsrc');
    await pgQuery(source, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);');
    catalog = await createPgDatabase('replcat');
    storage = mkdtempSync(join(tmpdir(), 'bm-repl-storage-'));
    const shared = {
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${source}`,
      CATALOG_URL: `postgres://postgres@127.0.0.1:5432/${catalog}`,
      STORAGE_DIR: storage,
      QUEUE_PREFIX: `bmtest-${randomBytes(4).toString('hex')}`,
      JWT_SECRET: randomBytes(24).toString('hex'),
      SCHEDULER_ENABLED: 'true',
      SCHEDULER_SYNC_INTERVAL_MS: '300',
      SCHEDULER_DEFAULT_PLANS: 'true',
      // Every-second schedules are the point here (the minimum interval is tested in queue-caps).
      SCHEDULE_MIN_INTERVAL_MINUTES: '0',
    };
    // Started together: the default plans must still be created once.
    apps.push(...(await Promise.all([0, 1, 2].map(() => startTestApp(shared)))));
  });

  afterAll(async () => {
    for (const a of apps) await a.close().catch(() => undefined);
    rmSync(storage, { recursive: true, force: true });
    for (const db of [source, catalog]) if (db) await dropPgDatabase(db);
  });

  const scheduleBackups = async (name: string) =>
    (await api(apps[0], 'GET', '/api/v1/backups?limit=200')).body.items.filter((b: any) => b.triggeredBy === `schedule:${name}`);

  it('creates the default plans once although three replicas started together', async () => {
    const list = await api(apps[2], 'GET', '/api/v1/schedules');
    expect(list.body.map((s: any) => s.name).sort()).toEqual(['app-daily', 'app-monthly', 'app-weekly']);
  });

  it('N ticks of an every-second schedule give N backups, not 3N; changes reach every replica without a restart', async () => {
    const created = await api(apps[0], 'POST', '/api/v1/schedules', { body: { name: 'every-second', target: 'app', cron: '* * * * * *', type: 'daily' } });
    expect(created.status).toBe(201);
    const id = created.body.id;
    // Every replica picks the new schedule up from the catalog.
    await waitFor(async () => {
      const counts = await Promise.all(apps.map((a) => api(a, 'GET', '/api/v1/scheduler/status').then((r) => r.body.registered)));
      return counts.every((n: number) => n === 4);
    }, 'every replica registering the new schedule', 5_000, 100);
    const status = await api(apps[1], 'GET', '/api/v1/scheduler/status');
    expect(status.body.schedulers).toHaveLength(3);

    const started = Date.now();
    await sleep(6_000);
    // Disabled through another replica: no replica fires it any more.
    expect((await api(apps[1], 'POST', `/api/v1/schedules/${id}/disable`)).status).toBe(200);
    const elapsed = (Date.now() - started) / 1000;
    await sleep(1_500);
    const backups = await scheduleBackups('every-second');
    const slots = backups.map((b: any) => b.metadata.scheduledFor as string);
    expect(new Set(slots).size).toBe(slots.length); // one backup per tick
    expect(slots.length).toBeGreaterThanOrEqual(Math.floor(elapsed) - 2);
    expect(slots.length).toBeLessThanOrEqual(Math.ceil(elapsed) + 2);
    const times = slots.map((s: string) => new Date(s).getTime()).sort((a: number, b: number) => a - b);
    for (const t of times) expect(t % 1000).toBe(0);

    await sleep(1_500);
    expect(await scheduleBackups('every-second')).toHaveLength(backups.length);
    await waitFor(async () => {
      const counts = await Promise.all(apps.map((a) => api(a, 'GET', '/api/v1/scheduler/status').then((r) => r.body.registered)));
      return counts.every((n: number) => n === 3);
    }, 'every replica dropping the disabled schedule', 5_000, 100);

    // The same tick on the three replicas at once: exactly one starts a backup.
    await api(apps[2], 'POST', `/api/v1/schedules/${id}/enable`);
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 + 50);
    const results = await Promise.all(apps.map((a) => a.app.get(ScheduleTicker).tick(id, '* * * * * *|UTC', at)));
    expect(results.filter(Boolean)).toHaveLength(1);
    await api(apps[2], 'POST', `/api/v1/schedules/${id}/disable`);
  });

  it('a schedule edited to a new time is fired at the new time only', async () => {
    const s = await api(apps[0], 'POST', '/api/v1/schedules', { body: { name: 'even', target: 'app', cron: '0 0 1 1 *' } });
    await sleep(700);
    expect((await api(apps[2], 'PATCH', `/api/v1/schedules/${s.body.id}`, { body: { cron: '*/2 * * * * *' } })).status).toBe(200);
    await sleep(4_500);
    await api(apps[0], 'POST', `/api/v1/schedules/${s.body.id}/disable`);
    await sleep(1_200);
    const backups = await scheduleBackups('even');
    expect(backups.length).toBeGreaterThanOrEqual(1);
    for (const b of backups) expect(new Date(b.metadata.scheduledFor).getUTCSeconds() % 2).toBe(0);
    expect(new Set(backups.map((b: any) => b.metadata.scheduledFor)).size).toBe(backups.length);
  });
});
