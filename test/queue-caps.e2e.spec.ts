import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { resolveModuleOptions } from '../src/config/module-options.js';
import { ConfigError, loadConfig } from '../src/config/env.js';
import { defaultSchedulerOptions } from '../src/config/options.js';
import { JobsQueue } from '../src/queue/jobs-queue.service.js';
import { ScheduleTicker } from '../src/scheduler/schedule-ticker.service.js';
import { api, waitForBackup } from './support/api.js';
import { setQueuePaused, startTestApp, testEnv, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { ROOT, startProcess } from './support/processes.js';

/** The CLI as a user runs it (built entrypoint, env only). */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const MAX_WAITING = 6;

/**
 * Issue 12, item 11: identical requests while one is QUEUED return that one; a global cap on
 * waiting jobs answers 429 with Retry-After and records nothing. The queue is paused after setup
 * so that requests stay waiting.
 */
describe('queue caps: identical requests and a full queue', () => {
  let t: TestApp;
  let db: string;
  let good: string;

  const queued = async () => (await api(t, 'GET', '/api/v1/backups?status=QUEUED&limit=100')).body.items as any[];
  const waitingJobs = async () => {
    const c = await t.app.get(JobsQueue).counts();
    return c.waiting + c.delayed + c.prioritized;
  };

  beforeAll(async () => {
    db = await createPgDatabase('caps');
    await pgQuery(db, 'CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY); INSERT INTO a SELECT generate_series(1, 100);');
    t = await startTestApp({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`, QUEUE_MAX_WAITING: String(MAX_WAITING) });
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    good = r.body.id;
    await waitFor(async () => (await api(t, 'GET', `/api/v1/backups/${good}`)).body.status === 'VERIFIED', 'the first backup to be verified');
    await waitFor(async () => (await waitingJobs()) === 0 && (await t.app.get(JobsQueue).counts()).active === 0, 'an idle queue');
    // From here on no worker takes a job: everything requested stays waiting.
    await setQueuePaused(t.config.options.queuePrefix, true);
  });

  afterAll(async () => {
    if (t) await setQueuePaused(t.config.options.queuePrefix, false).catch(() => undefined);
    await t?.close();
    if (db) await dropPgDatabase(db);
  });

  it('ten concurrent identical requests give one QUEUED record: one 202, nine 200 with the same record', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => api(t, 'POST', '/api/v1/backups', { body: { target: 'app', description: `try ${i}` }, token: t.token('operator') })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    const ids = new Set(results.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(results.every((r) => r.body.status === 'QUEUED' && r.body.target === 'app')).toBe(true);
    expect((await queued()).map((r) => r.id)).toEqual([...ids]);
    expect(await waitingJobs()).toBe(1);

    // Any difference in the spec is another backup; the order of tables is not a difference.
    const gzip = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', compression: 'gzip' } });
    expect(gzip.status).toBe(202);
    expect(gzip.body.id).not.toBe([...ids][0]);
    const ab = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', scope: 'selective', tables: ['a', 'b'] } });
    const ba = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', scope: 'selective', tables: ['b', 'a'] } });
    expect([ab.status, ba.status]).toEqual([202, 200]);
    expect(ba.body.id).toBe(ab.body.id);
    const schemaOnly = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', scope: 'selective', tables: ['a', 'b'], includeData: false } });
    expect(schemaOnly.status).toBe(202);

    // Once the queued one is gone (deleted: CANCELLED), the same request queues a new one.
    expect((await api(t, 'DELETE', `/api/v1/backups/${[...ids][0]}`)).status).toBe(200);
    const again = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    expect(again.status).toBe(202);
    expect(again.body.id).not.toBe([...ids][0]);
    expect(await waitingJobs()).toBe(4);
  });

  it('a full queue answers 429 QUEUE_FULL with Retry-After for backups, restores and verifications, and records nothing', async () => {
    for (const type of ['daily', 'weekly']) expect((await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', type } })).status).toBe(202);
    expect(await waitingJobs()).toBe(MAX_WAITING);
    const before = (await api(t, 'GET', '/api/v1/backups?includeDeleted=true&limit=100')).body.total;

    const refused = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', type: 'monthly' } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.body).toEqual({ statusCode: 429, code: 'QUEUE_FULL', error: 'Too Many Requests', message: expect.any(String) });
    expect(refused.body.message).toMatch(/^The job queue is full: 6 jobs are waiting for a worker and at most 6 may \(QUEUE_MAX_WAITING, queue\.maxWaiting in forRoot\)\. The backup was not queued; try again in 60 seconds/);

    const restore = await api(t, 'POST', `/api/v1/backups/${good}/restore`, { body: { confirm: true, targetDatabase: `${db}_copy` } });
    expect(restore.status).toBe(429);
    expect(restore.headers.get('retry-after')).toBe('60');
    expect(restore.body.message).toMatch(/The restore was not queued/);
    const drill = await api(t, 'POST', `/api/v1/backups/${good}/verify`, { body: { drill: true }, token: t.token('operator') });
    expect(drill.status).toBe(429);
    expect(drill.body.message).toMatch(/The restore drill was not queued/);

    // Nothing was recorded or queued by the refusals.
    expect((await api(t, 'GET', '/api/v1/backups?includeDeleted=true&limit=100')).body.total).toBe(before);
    expect((await api(t, 'GET', '/api/v1/restores')).body.total).toBe(0);
    expect(await waitingJobs()).toBe(MAX_WAITING);

    // An identical request still gets the queued record: it adds nothing to the queue.
    const same = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', type: 'weekly' } });
    expect(same.status).toBe(200);

    // The CLI says the same, with its own exit code (75: try again later), and shares a queued backup.
    const cliFull = await cli(['backup', 'create', '--target', 'app', '--type', 'monthly'], t.env);
    expect(cliFull.code).toBe(75);
    expect(cliFull.stderr).toMatch(/backup-manager: The job queue is full/);
    const cliSame = await cli(['backup', 'create', '--target', 'app', '--type', 'weekly', '--json'], t.env);
    expect(cliSame.code).toBe(0);
    expect(JSON.parse(cliSame.stdout).id).toBe(same.body.id);
    expect(cliSame.stderr).toMatch(/an identical backup of app is already queued/);
    expect((await api(t, 'GET', '/api/v1/backups?includeDeleted=true&limit=100')).body.total).toBe(before);
  }, 60_000);

  it('an identical drill or verification still waiting is returned, not queued again', async () => {
    // Room for two jobs: cancel two queued backups.
    for (const r of (await queued()).slice(0, 2)) expect((await api(t, 'DELETE', `/api/v1/backups/${r.id}`)).status).toBe(200);
    const drills = await Promise.all(Array.from({ length: 5 }, () => api(t, 'POST', `/api/v1/backups/${good}/verify`, { body: { drill: true }, token: t.token('operator') })));
    expect(drills.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 202]);
    expect(new Set(drills.map((r) => r.body.jobId)).size).toBe(1);
    expect(drills.filter((r) => r.body.created)).toHaveLength(1);
    const basic = await api(t, 'POST', `/api/v1/backups/${good}/verify`, { body: {}, token: t.token('operator') });
    expect(basic.status).toBe(202);
    expect(basic.body.jobId).not.toBe(drills[0].body.jobId);
    expect(await waitingJobs()).toBe(MAX_WAITING);
  });

  it('once workers take the queued jobs, the same requests are accepted again', async () => {
    await setQueuePaused(t.config.options.queuePrefix, false);
    await waitFor(async () => (await queued()).length === 0, 'the queued backups to run', 120_000);
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', type: 'monthly' } });
    expect(r.status).toBe(202);
    expect(['COMPLETED', 'VERIFIED']).toContain((await waitForBackup(t, r.body.id)).status);
  }, 180_000);
});

describe('queue caps: the minimum schedule interval', () => {
  let t: TestApp;
  let db: string;

  beforeAll(async () => {
    db = await createPgDatabase('capsched');
    t = await startTestApp({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`, SCHEDULER_TIMEZONE: 'Europe/Berlin' });
  });

  afterAll(async () => {
    await t?.close();
    if (db) await dropPgDatabase(db);
  });

  it('refuses a schedule that runs more often than every 5 minutes through the API, saying the minimum and how to change it', async () => {
    const create = (body: Record<string, unknown>) => api(t, 'POST', '/api/v1/schedules', { body: { name: `s${Math.random().toString(36).slice(2, 8)}`, target: 'app', ...body } });
    let r = await create({ cron: '* * * * *' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(
      /^cron "\* \* \* \* \*" runs 1 minute apart \(\d{4}-\d\d-\d\d \d\d:\d\d:00 and \d{4}-\d\d-\d\d \d\d:\d\d:00 Europe\/Berlin\); a schedule may run at most once every 5 minutes\. Choose a cron whose runs are at least that far apart, or change the minimum with SCHEDULE_MIN_INTERVAL_MINUTES \(schedules\.minIntervalMinutes in forRoot; 0 = no minimum\)$/,
    );
    r = await create({ cron: '*/10 * * * * *' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/runs 10 seconds apart/);
    // The gap that matters is the shortest one: 02:00 and 02:03 each day.
    r = await create({ cron: '0,3 2 * * *' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/runs 3 minutes apart \(\d{4}-\d\d-\d\d 02:00:00 and \d{4}-\d\d-\d\d 02:03:00 Europe\/Berlin\)/);
    r = await create({ cron: '0 2 * * *', timezone: 'Asia/Jakarta' });
    expect(r.status).toBe(201);
    const ok = await create({ cron: '*/5 * * * *' });
    expect(ok.status).toBe(201);

    // An update is checked too, and changes nothing when refused.
    const patched = await api(t, 'PATCH', `/api/v1/schedules/${ok.body.id}`, { body: { cron: '*/2 * * * *' } });
    expect(patched.status).toBe(400);
    expect(patched.body.message).toMatch(/runs 2 minutes apart/);
    expect((await api(t, 'GET', `/api/v1/schedules/${ok.body.id}`)).body.cron).toBe('*/5 * * * *');
    expect((await api(t, 'GET', '/api/v1/schedules')).body.map((s: any) => s.cron).filter((c: string) => /\*\/2|\* \* \* \* \*|,3/.test(c))).toEqual([]);
  });

  it('a schedule stored under the minimum (before it existed) is not run', async () => {
    const legacy = await api(t, 'POST', '/api/v1/schedules', { body: { name: 'legacy', target: 'app', cron: '0 3 * * *' } });
    const fine = await api(t, 'POST', '/api/v1/schedules', { body: { name: 'fine', target: 'app', cron: '0 4 * * *' } });
    const catalog = new Database(t.config.options.catalog.sqlitePath);
    try {
      catalog.prepare("UPDATE schedules SET cron = '* * * * * *' WHERE id = ?").run(legacy.body.id);
    } finally {
      catalog.close();
    }
    const ticker = t.app.get(ScheduleTicker);
    await ticker.sync();
    expect(ticker.registeredIds).toContain(fine.body.id);
    expect(ticker.registeredIds).not.toContain(legacy.body.id);
    await ticker.onApplicationShutdown();
  });

  it('refuses default plans and a drill cron from configuration that run too often, on both ways in, unless the minimum is lowered', async () => {
    const base = { JWT_SECRET: 'x'.repeat(40), DATA_DIR: t.dataDir };
    let problems: string[] = [];
    try {
      loadConfig({ ...base, SCHEDULER_DAILY_CRON: '*/2 * * * *', RESTORE_DRILL_CRON: '*/5 * * * * *' });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^SCHEDULER_DAILY_CRON runs too often: cron "\*\/2 \* \* \* \*" runs 2 minutes apart .*; a schedule may run at most once every 5 minutes\. .* SCHEDULE_MIN_INTERVAL_MINUTES \(schedules\.minIntervalMinutes in forRoot; 0 = no minimum\)$/),
      expect.stringMatching(/^RESTORE_DRILL_CRON runs too often: cron "\*\/5 \* \* \* \* \*" runs 5 seconds apart/),
    ]);
    expect(() => loadConfig({ ...base, SCHEDULER_DAILY_CRON: '*/2 * * * *', SCHEDULE_MIN_INTERVAL_MINUTES: '2' })).not.toThrow();
    expect(() => loadConfig({ ...base, RESTORE_DRILL_CRON: '*/5 * * * * *', SCHEDULE_MIN_INTERVAL_MINUTES: '0' })).not.toThrow();

    const schedules = { ...defaultSchedulerOptions(), defaultPlans: [{ type: 'daily' as const, cron: '* * * * *' }] };
    await expect(resolveModuleOptions({ schedules }, { controllers: false })).rejects.toThrow(
      /schedules\.defaultPlans\[0\]\.cron runs too often: cron "\* \* \* \* \*" runs 1 minute apart .*\(schedules\.minIntervalMinutes in forRoot; 0 = no minimum\)/,
    );
    await expect(resolveModuleOptions({ schedules: { ...schedules, minIntervalMinutes: 1 } }, { controllers: false })).resolves.toMatchObject({ schedules: { minIntervalMinutes: 1 } });
  });

  it('the service refuses to start with such a plan: exit 78 and the reason', async () => {
    const env = testEnv({ SCHEDULER_DAILY_CRON: '* * * * *' });
    const p = startProcess('main', env);
    const timer = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
    const code = await p.exited.finally(() => clearTimeout(timer));
    expect(code).toBe(78);
    expect(p.output()).toMatch(/SCHEDULER_DAILY_CRON runs too often: cron "\* \* \* \* \*" runs 1 minute apart/);
  });
});
