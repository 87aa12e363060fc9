// @serial times the host's boot against an unreachable Redis
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisWatch } from '../../src/queue/redis-watch.js';
import { HostAppModule } from '../support/host/host.module.js';
import { createPgDatabase, dropPgDatabase } from '../support/pg.js';
import { freePort } from '../support/processes.js';
import { dropQueueKeys, REDIS_URL } from '../support/app.js';

/** Everything the app logs, one line per call, level first. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log = (m: unknown, ...rest: unknown[]) => this.push('log', m, rest);
  warn = (m: unknown, ...rest: unknown[]) => this.push('warn', m, rest);
  error = (m: unknown, ...rest: unknown[]) => this.push('error', m, rest);
  debug = (m: unknown, ...rest: unknown[]) => this.push('debug', m, rest);
  verbose = (m: unknown, ...rest: unknown[]) => this.push('verbose', m, rest);
  private push(level: string, m: unknown, rest: unknown[]) {
    this.lines.push(`${level} ${[m, ...rest].map((x) => (x instanceof Error ? x.stack : String(x))).join(' ')}`);
  }
}

/** A host app whose Redis is a closed port: it boots, warns once, and refuses work at once. */
describe('a host app while Redis is unreachable', () => {
  let db: string;
  let dataDir: string;
  let app: INestApplication;
  let base: string;
  let redisUrl: string;
  let bootMs: number;
  let controlMs: number;
  const logger = new CapturingLogger();
  const consoleOut: string[] = [];
  // The control boots against the real Redis: a prefix of this run's own, removed afterwards.
  const queuePrefix = `bmtest-hostredis-${randomBytes(4).toString('hex')}`;

  const call = async (method: string, path: string, user?: string, body?: unknown) => {
    const headers: Record<string, string> = user ? { 'x-user': user } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
    const text = await r.text();
    return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    // ioredis and BullMQ print unhandled connection errors straight to the console.
    for (const m of ['error', 'warn', 'log'] as const) {
      jest.spyOn(console, m).mockImplementation((...args: unknown[]) => void consoleOut.push(args.map((a) => (a instanceof Error ? a.stack : String(a))).join(' ')));
    }
    db = await createPgDatabase('hostredis');
    dataDir = mkdtempSync(join(tmpdir(), 'bm-host-redis-'));
    redisUrl = `redis://127.0.0.1:${await freePort()}`;
    const boot = async (url: string, log: LoggerService | false) => {
      const t0 = Date.now();
      const a = await NestFactory.create(
        HostAppModule.forSettings({
          database: db,
          redisUrl: url,
          queuePrefix,
          storageDir: join(dataDir, 'backups'),
          tempDir: join(dataDir, 'tmp'),
          libraryGuard: 'global',
        }),
        { logger: log },
      );
      a.setGlobalPrefix('api');
      await a.listen(0, '127.0.0.1');
      return { a, ms: Date.now() - t0 };
    };
    // The control: the same host with Redis up (booted twice: the first run migrates the catalog).
    await (await boot(REDIS_URL, false)).a.close();
    const control = await boot(REDIS_URL, false);
    controlMs = control.ms;
    await control.a.close();
    ({ a: app, ms: bootMs } = await boot(redisUrl, logger));
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await dropPgDatabase(db);
    await dropQueueKeys(queuePrefix);
    rmSync(dataDir, { recursive: true, force: true });
    jest.restoreAllMocks();
  }, 60_000);

  it('boots without waiting for Redis', async () => {
    // At most a couple of seconds more than with Redis up (it used to wait 10 s for an answer).
    expect(bootMs).toBeLessThan(controlMs + 2_500);
    expect((await call('GET', '/api/ping')).status).toBe(200);
  });

  it('refuses a backup at once with 503 QUEUE_UNAVAILABLE, and records nothing', async () => {
    const t0 = Date.now();
    const r = await call('POST', '/api/ops/backups', 'olga:backup:operator', { target: 'app' });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ code: 'QUEUE_UNAVAILABLE' });
    expect(r.body.message).toContain(`The job queue (Redis at ${redisUrl}) is unavailable`);
    expect(r.body.message).toMatch(/ECONNREFUSED[\s\S]*the request was not queued and nothing was recorded/);
    expect(r.headers.get('retry-after')).toBe('30');
    const list = await call('GET', '/api/ops/backups', 'vera:backup:viewer');
    expect(list).toMatchObject({ status: 200, body: { total: 0, items: [] } });
  });

  it('says so in one warning while it keeps reconnecting, with no stack traces', async () => {
    const watch = RedisWatch.for(redisUrl);
    const deadline = Date.now() + 30_000;
    // Enough reconnection attempts that a per-attempt message would show many times.
    while (watch.failedAttempts < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(watch.failedAttempts).toBeGreaterThanOrEqual(8);
    const aboutRedis = logger.lines.filter((l) => /redis|ECONNREFUSED/i.test(l));
    expect(aboutRedis).toEqual([expect.stringMatching(new RegExp(`^warn Redis at ${redisUrl} is unreachable \\(connect ECONNREFUSED [^)]*\\): jobs cannot be queued`))]);
    expect(consoleOut.filter((l) => /ECONNREFUSED|\n\s+at /.test(l))).toEqual([]);
  }, 40_000);
});
