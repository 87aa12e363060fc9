import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SchedulesService } from '../src/scheduler/schedules.service.js';
import { api, waitForBackup } from './support/api.js';
import { startTestApp, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('schedules: CRUD, validation, next runs, run now, default plans', () => {
  let t: TestApp;
  let db: string;

  beforeAll(async () => {
    db = await createPgDatabase('sched');
    await pgQuery(db, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10);');
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      SCHEDULER_ENABLED: 'true',
      SCHEDULER_TIMEZONE: 'Asia/Jakarta',
      SCHEDULER_SYNC_INTERVAL_MS: '300',
      // Second-level crons are the point here (the minimum interval is tested in queue-caps).
      SCHEDULE_MIN_INTERVAL_MINUTES: '0',
    });
  });

  afterAll(async () => {
    await t?.close();
    if (db) await dropPgDatabase(db);
  });

  it('creates the default plans from configuration on first start, in the configured zone, each editable', async () => {
    const list = await api(t, 'GET', '/api/v1/schedules', { token: t.token('viewer') });
    expect(list.status).toBe(200);
    const byName = Object.fromEntries(list.body.map((s: any) => [s.name, s]));
    expect(Object.keys(byName).sort()).toEqual(['app-daily', 'app-monthly', 'app-weekly']);
    expect(byName['app-daily']).toMatchObject({ cron: '0 2 * * *', timezone: 'Asia/Jakarta', type: 'daily', enabled: true, isDefault: true });
    expect(byName['app-weekly']).toMatchObject({ cron: '0 3 * * 0', type: 'weekly' });
    expect(byName['app-monthly']).toMatchObject({ cron: '0 4 1 * *', type: 'monthly' });
    // 02:00 in Jakarta (UTC+7) is 19:00 UTC
    expect(byName['app-daily'].nextRuns).toHaveLength(5);
    for (const at of byName['app-daily'].nextRuns) expect(new Date(at).toISOString()).toMatch(/T19:00:00\.000Z$/);
    const weekly = new Date(byName['app-weekly'].nextRunAt);
    expect(weekly.getUTCDay()).toBe(6); // Sunday 03:00 in Jakarta is Saturday 20:00 UTC
    expect(weekly.getUTCHours()).toBe(20);

    const edited = await api(t, 'PATCH', `/api/v1/schedules/${byName['app-daily'].id}`, { body: { cron: '30 1 * * *' } });
    expect(edited.status).toBe(200);
    expect(edited.body.cron).toBe('30 1 * * *');
    expect(new Date(edited.body.nextRunAt).toISOString()).toMatch(/T18:30:00\.000Z$/);
    // Default plans are only for a catalog that never held a schedule.
    expect(await t.app.get(SchedulesService).ensureDefaultPlans()).toBe(0);
  });

  it('refuses a bad cron, a bad time zone, an unknown target and an unknown policy, saying which', async () => {
    const bad = async (body: Record<string, unknown>) => api(t, 'POST', '/api/v1/schedules', { body: { name: 'x', target: 'app', ...body } });
    let r = await bad({ cron: '61 * * * *' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/cron "61 \* \* \* \*" is invalid/);
    r = await bad({ cron: '* * *' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/cron .* needs 5 fields/);
    r = await bad({ cron: '0 2 * * *', timezone: 'Mars/Olympus_Mons' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/timezone "Mars\/Olympus_Mons" is not an IANA time zone/);
    r = await bad({ cron: '0 2 * * *', target: 'nope' });
    expect(r.status).toBe(404);
    expect(r.body.message).toMatch(/Unknown target "nope"/);
    r = await bad({ cron: '0 2 * * *', retentionPolicy: 'forever' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/retentionPolicy "forever"/);
    r = await bad({});
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/either cron .* or preset/);
    r = await bad({ preset: 'yearly' });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body.message)).toMatch(/preset must be one of: hourly, daily, weekly, monthly/);
    r = await api(t, 'POST', '/api/v1/schedules', { body: { name: 'x', target: 'app', preset: 'daily' }, token: t.token('viewer') });
    expect(r.status).toBe(403);
  });

  it('creates, reads, edits, disables and deletes a schedule; presets and 6-field crons work', async () => {
    const created = await api(t, 'POST', '/api/v1/schedules', {
      body: { name: 'app-weekly-gfs', target: 'app', preset: 'weekly', timezone: 'Europe/Berlin', retentionPolicy: 'gfs' },
      token: t.token('operator'),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ preset: 'weekly', cron: null, expression: '0 0 * * 0', type: 'weekly', retentionPolicy: 'gfs', enabled: true, lastRunAt: null });
    const first = new Date(created.body.nextRunAt);
    expect(first.getTime()).toBeGreaterThan(Date.now());
    const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    for (const at of created.body.nextRuns) expect(berlin.format(new Date(at))).toBe('Sun 00:00');
    const id = created.body.id;

    expect((await api(t, 'POST', '/api/v1/schedules', { body: { name: 'app-weekly-gfs', target: 'app', preset: 'daily' } })).status).toBe(409);

    const six = await api(t, 'PATCH', `/api/v1/schedules/${id}`, { body: { cron: '*/10 * * * * *' } });
    expect(six.status).toBe(200);
    expect(six.body).toMatchObject({ cron: '*/10 * * * * *', preset: null, expression: '*/10 * * * * *' });
    const gaps = six.body.nextRuns.map((d: string) => new Date(d).getTime());
    expect(gaps[1] - gaps[0]).toBe(10_000);

    const off = await api(t, 'POST', `/api/v1/schedules/${id}/disable`, { token: t.token('operator') });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ enabled: false, nextRunAt: null, nextRuns: [] });
    const on = await api(t, 'POST', `/api/v1/schedules/${id}/enable`, { token: t.token('operator') });
    expect(on.body.enabled).toBe(true);
    expect(on.body.nextRunAt).not.toBeNull();
    await api(t, 'PATCH', `/api/v1/schedules/${id}`, { body: { enabled: false } });

    expect((await api(t, 'GET', `/api/v1/schedules/${id}`)).body.enabled).toBe(false);
    expect((await api(t, 'DELETE', `/api/v1/schedules/${id}`, { token: t.token('operator') })).status).toBe(403);
    expect((await api(t, 'DELETE', `/api/v1/schedules/${id}`)).status).toBe(200);
    expect((await api(t, 'GET', `/api/v1/schedules/${id}`)).status).toBe(404);
    expect((await api(t, 'GET', '/api/v1/schedules/not-a-uuid')).status).toBe(404);
  });

  it('runs a schedule now: a backup triggered by schedule:<name>, shown as the last run', async () => {
    const s = await api(t, 'POST', '/api/v1/schedules', { body: { name: 'app-now', target: 'app', cron: '0 0 1 1 *', type: 'manual', enabled: false } });
    const run = await api(t, 'POST', `/api/v1/schedules/${s.body.id}/run`, { token: t.token('operator') });
    expect(run.status).toBe(202);
    expect(run.body).toMatchObject({ status: 'QUEUED', triggeredBy: 'schedule:app-now', type: 'manual', target: 'app' });
    expect(run.body.metadata).toMatchObject({ scheduleId: s.body.id, trigger: 'manual', requestedBy: 'user:tester', retentionPolicy: 'standard' });
    const done = await waitForBackup(t, run.body.id);
    expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
    const after = await api(t, 'GET', `/api/v1/schedules/${s.body.id}`);
    expect(after.body.lastBackupId).toBe(run.body.id);
    // lastStatus is read live from the backup; the scheduler's verification pass may move a
    // COMPLETED backup to VERIFIED between the two reads, never anywhere else.
    const reachable = done.status === 'COMPLETED' ? ['COMPLETED', 'VERIFIED'] : [done.status];
    expect(reachable).toContain(after.body.lastStatus);
    expect(after.body.lastRunAt).not.toBeNull();
  });

  it('fires an every-second schedule; a disabled one never fires', async () => {
    await api(t, 'POST', '/api/v1/schedules', { body: { name: 'app-off', target: 'app', cron: '* * * * * *', enabled: false } });
    const on = await api(t, 'POST', '/api/v1/schedules', { body: { name: 'app-tick', target: 'app', cron: '*/2 * * * * *', type: 'daily' } });
    expect(on.status).toBe(201);
    await sleep(5_000);
    await api(t, 'POST', `/api/v1/schedules/${on.body.id}/disable`);
    await sleep(1_500);
    const backups = (await api(t, 'GET', '/api/v1/backups?limit=200')).body.items;
    expect(backups.filter((b: any) => b.triggeredBy === 'schedule:app-off')).toHaveLength(0);
    const ticks = backups.filter((b: any) => b.triggeredBy === 'schedule:app-tick');
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(ticks.length).toBeLessThanOrEqual(3);
    for (const b of ticks) {
      expect(b.metadata.trigger).toBe('tick');
      expect(new Date(b.metadata.scheduledFor).getUTCSeconds() % 2).toBe(0);
      expect(new Date(b.metadata.scheduledFor).getUTCMilliseconds()).toBe(0);
    }
    const status = await api(t, 'GET', '/api/v1/scheduler/status', { token: t.token('viewer') });
    expect(status.status).toBe(200);
    expect(status.body.enabled).toBe(true);
    expect(status.body.schedules.find((s: any) => s.name === 'app-tick')).toMatchObject({ enabled: false, nextRunAt: null });
    expect(status.body.schedules.find((s: any) => s.name === 'app-monthly').nextRunAt).not.toBeNull();
    expect(status.body.workers.length).toBeGreaterThanOrEqual(1);
    expect(status.body.schedulers).toHaveLength(1);
    expect(status.body.jobs).toHaveProperty('waiting');
    expect(status.body.cleanup.cron).toBe('0 5 * * *');
    // The backups started by ticks finish like any other.
    for (const b of ticks) expect(['COMPLETED', 'VERIFIED']).toContain((await waitForBackup(t, b.id)).status);
  });
});

