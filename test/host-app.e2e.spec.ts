import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, ValidationPipe, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupManagerModule, type BackupManagerModuleOptions } from '../src/index.js';
import { dropQueueKeys, REDIS_URL, waitFor } from './support/app.js';
import { HostAppModule, HostAuthGuard, HostOps } from './support/host/host.module.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { ROOT, startScript, type Proc } from './support/processes.js';

/** A host Nest app importing BackupManagerModule.forRootAsync with its own DataSource as target and catalog. */
describe('backup-manager inside a host app', () => {
  let db: string;
  let app: INestApplication;
  let base: string;
  let dataDir: string;
  let queuePrefix: string;
  let worker: Proc | undefined;

  const call = async (method: string, path: string, opts: { user?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.user) headers['x-user'] = opts.user;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    db = await createPgDatabase('host');
    dataDir = mkdtempSync(join(tmpdir(), 'bm-host-'));
    queuePrefix = `bmtest-host-${randomBytes(4).toString('hex')}`;
    app = await NestFactory.create(
      HostAppModule.forSettings({
        database: db,
        redisUrl: REDIS_URL,
        queuePrefix,
        storageDir: join(dataDir, 'backups'),
        tempDir: join(dataDir, 'tmp'),
      }),
      { logger: false },
    );
    // The host's own app-level choices: global prefix and a strict global pipe.
    app.setGlobalPrefix('api');
    app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  }, 60_000);

  afterAll(async () => {
    worker?.child.kill('SIGTERM');
    if (worker) await Promise.race([worker.exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await app?.close();
    await dropQueueKeys(queuePrefix);
    await dropPgDatabase(db);
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it("keeps the host's routes, entity and migrations working", async () => {
    expect(await call('GET', '/api/ping')).toEqual({ status: 200, body: { pong: true } });
    const created = await call('POST', '/api/notes', { body: { text: 'hello' } });
    expect(created.status).toBe(201);
    expect(await pgQuery(db, 'SELECT text FROM notes')).toEqual([{ text: 'hello' }]);
    // The library migrated its tables into the host's database, under their prefix.
    const tables = (await pgQuery<{ t: string }>(db, "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'")).map((r) => r.t);
    expect(tables).toEqual(expect.arrayContaining(['notes', 'bm_backup_records', 'bm_restore_runs']));
  });

  it("still applies the host's global pipe and global guard", async () => {
    const bad = await call('POST', '/api/notes', { body: { text: '', extra: 1 } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.message)).toMatch(/extra should not exist/);
    expect((await call('GET', '/api/ping', { headers: { 'x-maintenance': '1' } })).status).toBe(403);
    expect((await call('GET', '/api/ops/backups', { user: 'alice:backup:admin', headers: { 'x-maintenance': '1' } })).status).toBe(403);
  });

  it("mounts the library's routes under the host prefix, behind the host's guard and the library's roles", async () => {
    expect((await call('GET', '/api/v1/backups', { user: 'alice:backup:admin' })).status).toBe(404);
    expect((await call('GET', '/api/ops/backups')).status).toBe(403); // host guard says no
    const list = await call('GET', '/api/ops/backups', { user: 'vera:backup:viewer' });
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ items: [], total: 0 });
    const targets = await call('GET', '/api/ops/targets', { user: 'vera:backup:viewer' });
    expect(targets.body).toEqual([expect.objectContaining({ name: 'app', engine: 'postgres', database: db, host: '127.0.0.1', port: 5432 })]);
    const refused = await call('POST', '/api/ops/backups', { user: 'vera:backup:viewer', body: { target: 'app' } });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/needs the operator role/);
  });

  it('refuses users the host has not mapped to a library role on every library route, tenant admins included', async () => {
    // Every route the app serves under the library's prefix, read from Express's router.
    const router = (app.getHttpAdapter().getInstance() as { router?: { stack: any[] }; _router?: { stack: any[] } });
    const routes = (router.router ?? router._router)!.stack
      .filter((l) => l.route && String(l.route.path).startsWith('/api/ops/'))
      .flatMap((l) => Object.keys(l.route.methods).filter((m) => m !== '_all').map((m) => ({ method: m.toUpperCase(), path: String(l.route.path) })));
    expect(routes.length).toBeGreaterThan(25);
    expect(routes).toEqual(expect.arrayContaining([{ method: 'GET', path: '/api/ops/backups/:id/download' }, { method: 'POST', path: '/api/ops/backups/:id/restore' }]));
    const failures: string[] = [];
    // A fresh user id per route: refused users are throttled (429) after a few refusals.
    for (const [i, { method, path }] of routes.entries()) {
      const url = path.replace(/:[A-Za-z]+/g, '00000000-0000-4000-8000-000000000000');
      for (const user of [`carl${i}:customer`, `tina${i}:admin`, `tom${i}:tenant-admin,admin,superadmin`, `uma${i}:backup-admin,backup:root,backupadmin`]) {
        const r = await call(method, url, { user, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
        if (r.status !== 403 || r.body?.code !== 'NO_BACKUP_ROLE') failures.push(`${method} ${url} as ${user}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    }
    expect(failures).toEqual([]);
    const refused = await call('GET', '/api/ops/backups', { user: 'tina:admin' });
    expect(refused.body.message).toMatch(/no backup-manager role.*backup:viewer, backup:operator or backup:admin/);
    // Nothing happened on the way: no record.
    expect((await call('GET', '/api/ops/backups', { user: 'vera:backup:viewer' })).body.total).toBe(0);
  }, 60_000);

  it("runs the host's guard once per request, with the host's own instance", async () => {
    const before = HostAuthGuard.runs;
    for (let i = 0; i < 5; i++) expect((await call('GET', '/api/ops/backups', { user: 'vera:backup:viewer' })).status).toBe(200);
    expect((await call('GET', '/api/ops/backups', { user: 'cora:customer' })).status).toBe(403);
    expect((await call('GET', '/api/ops/backups')).status).toBe(403);
    expect(HostAuthGuard.runs - before).toBe(7);
    expect(HostAuthGuard.instances).toBe(1);
  });

  it('audits a request the host refused as refused by the host, not as a bad library token', async () => {
    const r = await call('GET', '/api/ops/audit', { headers: { authorization: 'Bearer host.session.token', 'x-request-id': 'host-refused-1' } });
    expect(r.status).toBe(403);
    const deadline = Date.now() + 10_000;
    let rows: Array<Record<string, unknown>> = [];
    while (!rows.length && Date.now() < deadline) {
      const page = await call('GET', '/api/ops/audit?action=auth.*&limit=500', { user: 'alice:backup:admin' });
      rows = (page.body.items as Array<Record<string, unknown>>).filter((e) => e.requestId === 'host-refused-1');
      if (!rows.length) await new Promise((res) => setTimeout(res, 100));
    }
    expect(rows).toEqual([expect.objectContaining({ action: 'auth.forbidden', actorId: 'anonymous', metadata: expect.objectContaining({ status: 403, reason: 'refused by the host application' }) })]);
    expect(JSON.stringify(rows)).not.toMatch(/token/i);
  });

  it("runs the host's own cron once per tick next to the library", async () => {
    const ops = app.get(HostOps);
    const deadline = Date.now() + 10_000;
    while (ops.cronTicks.size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(ops.cronTicks.size).toBeGreaterThanOrEqual(3);
    expect([...ops.cronTicks.values()].every((n) => n === 1)).toBe(true);
  });

  it('completes a backup of the host database in a separate worker process', async () => {
    const req = await call('POST', '/api/ops/backups', { user: 'olga:backup:operator', body: { target: 'app', type: 'daily', description: 'from the host' } });
    expect(req.status).toBe(202);
    expect(req.body).toMatchObject({ status: 'QUEUED', triggeredBy: 'user:olga' });
    // A facade call from host code, as before a risky migration; the host hears the event.
    const pre = await app.get(HostOps).backupBeforeMigration();
    expect(pre.triggeredBy).toBe('host:pre-migration');
    // Asked again while it is still QUEUED: the same backup, not a second one.
    expect((await app.get(HostOps).backupBeforeMigration()).id).toBe(pre.id);
    expect(app.get(HostOps).requested).toEqual(expect.arrayContaining([req.body.id, pre.id]));

    // Workers are off inside the host: nothing runs until a worker joins the same catalog, Redis prefix and storage.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await call('GET', `/api/ops/backups/${req.body.id}`, { user: 'vera:backup:viewer' })).body.status).toBe('QUEUED');
    // The host's own worker entry point (BackupManagerWorkerModule): no HTTP, no JWT secret.
    worker = startScript(join(ROOT, 'test', 'support', 'host', 'worker.mjs'), {
      HOST_SETTINGS: JSON.stringify({ database: db, redisUrl: REDIS_URL, queuePrefix, storageDir: join(dataDir, 'backups'), tempDir: join(dataDir, 'tmp') }),
    });
    for (const id of [req.body.id, pre.id]) {
      const deadline = Date.now() + 90_000;
      let rec: any;
      for (;;) {
        rec = (await call('GET', `/api/ops/backups/${id}`, { user: 'vera:backup:viewer' })).body;
        if (!['QUEUED', 'RUNNING'].includes(rec.status)) break;
        if (Date.now() > deadline) throw new Error(`backup ${id} stuck in ${rec.status}; worker output:\n${worker.output()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect({ status: rec.status, error: rec.errorMessage }).toEqual({ status: expect.stringMatching(/^(COMPLETED|VERIFIED)$/), error: null });
      expect(rec.sizeBytes).toBeGreaterThan(0);
      expect(existsSync(join(dataDir, 'backups', rec.fileKey))).toBe(true);
    }
    expect(worker.output()).toContain('worker ready');
    expect(worker.output()).not.toMatch(/JWT|jwtSecret/);

    // The host's @OnEvent handler, in this process, heard each completion from the worker process
    // exactly once, with the record's timestamps as Dates.
    const heard = async (id: string) => {
      for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
        if (app.get(HostOps).completed.some((c) => c.id === id)) return;
      }
    };
    await heard(req.body.id);
    await heard(pre.id);
    await new Promise((r) => setTimeout(r, 500)); // a second delivery would arrive by now
    const completed = app.get(HostOps).completed;
    for (const id of [req.body.id, pre.id]) {
      const got = completed.filter((c) => c.id === id);
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({ status: 'COMPLETED', sizeBytes: expect.any(Number) });
      expect(got[0].createdAt).toBeInstanceOf(Date);
    }
    // Heard, not acted on twice: one audit entry per completion, written by the worker. The worker
    // writes it while it publishes the event, so the host may hear the event first: wait for both.
    const audited = await waitFor(async () => {
      const rows = await pgQuery(db, `SELECT resource FROM bm_audit_events WHERE action = 'backup.complete' ORDER BY resource`);
      return rows.length >= 2 ? rows : undefined;
    }, 'the audit entries of both completions', 30_000);
    expect(audited.map((a) => a.resource)).toEqual([req.body.id, pre.id].sort());

    // The worker planned nothing of its own, with its scheduler on: no default plans, no drill.
    expect(await pgQuery(db, 'SELECT count(*)::int AS n FROM bm_schedules')).toEqual([{ n: 0 }]);
  }, 120_000);
});

/**
 * A host passes options the env path would refuse: start-up fails naming the option, through the
 * same checks (`validateOptions`), for `forRootAsync` and `forRoot` alike.
 */
describe('a host app with bad backup-manager options', () => {
  let dir: string;
  let storageDir: string;
  let base: BackupManagerModuleOptions;
  const queuePrefix = `bmtest-hostopt-${randomBytes(4).toString('hex')}`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bm-host-opts-'));
    storageDir = join(dir, 'backups');
    mkdirSync(storageDir);
    symlinkSync(storageDir, join(dir, 'alias'));
    base = { storageDir, tempDir: join(dir, 'tmp'), catalog: { sqlitePath: join(dir, 'catalog.sqlite') }, redisUrl: REDIS_URL, queuePrefix };
  });

  afterAll(async () => {
    await dropQueueKeys(queuePrefix);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A host module whose config provider hands `options` to the library's async factory. */
  function hostWith(options: BackupManagerModuleOptions, sync = false, appModules: DynamicModule[] = [EventEmitterModule.forRoot()]): DynamicModule {
    @Module({ providers: [{ provide: 'HOST_CONFIG', useValue: options }], exports: ['HOST_CONFIG'] })
    class HostConfigModule {}
    @Module({})
    class HostModule {}
    const lib = sync
      ? BackupManagerModule.forRoot({ ...options, controllers: false })
      : BackupManagerModule.forRootAsync({ imports: [HostConfigModule], inject: ['HOST_CONFIG'], useFactory: (o: BackupManagerModuleOptions) => o, controllers: false });
    return { module: HostModule, imports: [...appModules, lib] };
  }

  const start = (options: BackupManagerModuleOptions, sync = false) => NestFactory.createApplicationContext(hostWith(options, sync), { logger: false, abortOnError: false });

  it('starts with good options (the control)', async () => {
    const ctx = await start({ ...base, cache: { fileRoot: join(dir, 'cache') }, timezone: 'Europe/Berlin' });
    await ctx.close();
  });

  const cases: Array<[string, () => BackupManagerModuleOptions, RegExp]> = [
    ['a file-cache root that contains the storage directory', () => ({ ...base, cache: { fileRoot: dir } }), /cache\.fileRoot must not be or contain .*backups/],
    ['a file-cache root inside the storage directory', () => ({ ...base, cache: { fileRoot: join(storageDir, 'cache') } }), /cache\.fileRoot must not lie inside .*backups/],
    ['a file-cache root that reaches the storage directory through a symlink', () => ({ ...base, cache: { fileRoot: join(dir, 'alias') } }), /cache\.fileRoot must not be or contain/],
    ['a file-cache root that holds the SQLite catalog', () => ({ ...base, storageDir: join(dir, 'b', 'store'), tempDir: join(dir, 'b', 'tmp'), cache: { fileRoot: dir } }), /cache\.fileRoot must not be or contain .*bm-host-opts-/],
    ['a cache prefix overlapping the queue', () => ({ ...base, cache: { redisPrefixes: ['ok:', `${queuePrefix}:jobs:`] } }), /cache\.redisPrefixes\[1\] must not overlap the job queue's keys/],
    ['an unknown time zone', () => ({ ...base, timezone: 'Mars/Olympus' }), /timezone is not an IANA time zone: "Mars\/Olympus"/],
    ['a policy of an unknown kind', () => ({ ...base, schedules: { retention: { policies: [{ name: 'odd', kind: 'weird' }], defaultPolicy: 'odd' } } as never }), /schedules\.retention\.policies\[0\] is not a valid policy: policy odd: kind must be one of tiered, per-type, age/],
    ['a default policy that names none', () => ({ ...base, schedules: { retention: { defaultPolicy: 'nope' } } as never }), /schedules\.retention\.defaultPolicy names no policy: "nope"/],
    ['a bad cleanup cron', () => ({ ...base, schedules: { retention: { cleanupCron: 'every day' } } as never }), /schedules\.retention\.cleanupCron is not a valid cron expression \("every day"/],
    ['a bad drill cron', () => ({ ...base, schedules: { drillCron: '61 * * * *' } as never }), /schedules\.drillCron is not a valid cron expression/],
    ['a bad default plan', () => ({ ...base, schedules: { defaultPlans: [{ type: 'hourly', cron: '* *' }] } as never }), /schedules\.defaultPlans\[0\]\.type must be one of daily, weekly, monthly[\s\S]*schedules\.defaultPlans\[0\]\.cron is not a valid cron/],
    ['a 3-character JWT secret, dev mode or not', () => ({ ...base, auth: { jwtSecret: 'abc', devMode: true } }), /auth\.jwtSecret must be at least 32 characters/],
    ['attempts out of range', () => ({ ...base, queue: { attempts: 0 } }), /queue\.attempts must be an integer between 1 and 20 \(got 0\)/],
    ['the same storage and temp directory', () => ({ ...base, tempDir: storageDir }), /tempDir must differ from storageDir/],
    ['a target with a bad name and no database', () => ({ ...base, targets: [{ name: 'App', engine: 'postgres', host: '127.0.0.1', port: 5432, user: 'u', database: '' }] }), /targets\[0\]\.name must be 1 to 64 lower-case[\s\S]*targets\[0\]\.database must name a database/],
  ];

  it.each(cases)('refuses %s at start-up, naming the option', async (_name, options, message) => {
    await expect(start(options())).rejects.toThrow(message);
    await expect(start(options(), true)).rejects.toThrow(message);
  });

  it("uses the app's EventEmitterModule and ScheduleModule, and names the one the app lacks", async () => {
    const start2 = (o: BackupManagerModuleOptions, modules: DynamicModule[], sync = false) =>
      NestFactory.createApplicationContext(hostWith(o, sync, modules), { logger: false, abortOnError: false });
    for (const sync of [false, true]) {
      await expect(start2(base, [], sync)).rejects.toThrow(/the app does not import EventEmitterModule\.forRoot\(\) from @nestjs\/event-emitter\. Import it once in your app module/);
      await expect(start2({ ...base, scheduler: true }, [EventEmitterModule.forRoot()], sync)).rejects.toThrow(
        /the scheduler is on \(`scheduler: true`\) but the app does not import ScheduleModule\.forRoot\(\) from @nestjs\/schedule/,
      );
    }
    // With both, the scheduler runs on the app's registry: no second ScheduleModule.
    const ctx = await start2({ ...base, scheduler: true }, [EventEmitterModule.forRoot(), ScheduleModule.forRoot()]);
    try {
      expect(ctx.get(SchedulerRegistry).getCronJobs().size).toBeGreaterThan(0);
    } finally {
      await ctx.close();
    }
  });

  it('names every problem at once', async () => {
    const err = await start({ ...base, timezone: 'Nowhere', cache: { fileRoot: dir }, queue: { attempts: 99 } }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^BackupManagerModule: invalid options:\n {2}- /);
    for (const path of ['timezone', 'cache.fileRoot', 'queue.attempts']) expect((err as Error).message).toContain(`\n  - ${path} `);
  });
});
