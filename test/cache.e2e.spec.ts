import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CACHE_MANAGER, type Cache } from '@nestjs/cache-manager';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config/env.js';
import { JobsQueue } from '../src/queue/jobs-queue.service.js';
import { JobName } from '../src/queue/jobs.js';
import { api } from './support/api.js';
import { REDIS_URL, startTestApp, testEnv, waitFor, type TestApp } from './support/app.js';

/** The queue's durable keys (BullMQ itself adds and drops `marker` and `stalled-check`). */
const durable = (keys: string[]) => keys.filter((k) => !/:(marker|stalled-check)$/.test(k));

async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

describe('cache clearing', () => {
  const tag = randomBytes(4).toString('hex');
  const CACHE = `bmcache-${tag}:`;
  const SESSION = `bmsess-${tag}:`;
  const OTHER = `bmother-${tag}:`;
  let t: TestApp;
  let redis: Redis;
  let fileRoot: string;
  let outside: string;
  let queueKeys: string[];

  beforeAll(async () => {
    const base = mkdtempSync(join(tmpdir(), 'bm-cache-'));
    fileRoot = join(base, 'cache-root');
    outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'precious.txt'), 'keep me');
    t = await startTestApp({ CACHE_REDIS_PREFIXES: `${CACHE}, ${CACHE}extra:`, CACHE_SESSION_PREFIXES: SESSION, CACHE_FILE_ROOT: fileRoot });
    redis = new Redis(REDIS_URL);
    // Queue keys exist: a far-delayed job and the queue's meta data.
    const jobs = t.app.get(JobsQueue);
    await jobs.add(JobName.Backup, { recordId: 'x' }, `keep-${tag}`, { delay: 3600_000 });
    queueKeys = durable(await scanAll(redis, `${t.config.options.queuePrefix}:*`));
    expect(queueKeys).toContain(`${t.config.options.queuePrefix}:jobs:keep-${tag}`);
  });

  afterAll(async () => {
    for (const p of [CACHE, SESSION, OTHER]) {
      const keys = await scanAll(redis, `${p}*`);
      if (keys.length) await redis.unlink(...keys);
    }
    redis?.disconnect();
    await t?.close();
    rmSync(join(fileRoot, '..'), { recursive: true, force: true });
  });

  async function seed(prefix: string, n: number, sub = ''): Promise<void> {
    const pipe = redis.pipeline();
    for (let i = 0; i < n; i++) pipe.set(`${prefix}${sub}${i}`, 'v');
    await pipe.exec();
  }

  it('clears Redis keys matching a pattern inside a prefix, then the whole prefix, and nothing else', async () => {
    await seed(CACHE, 1200, 'users:');
    await seed(CACHE, 30, 'posts:');
    await seed(OTHER, 5);

    const some = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'redis', keys: [`${CACHE}posts:*`, `${CACHE}users:7`] } });
    expect(some.status).toBe(200);
    expect(some.body).toMatchObject({ cacheType: 'redis', itemsCleared: 31, outcome: 'success', results: [{ type: 'redis', items: 31 }] });
    expect(await scanAll(redis, `${CACHE}posts:*`)).toHaveLength(0);
    expect(await scanAll(redis, `${CACHE}users:*`)).toHaveLength(1199);

    const all = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'redis' } });
    expect(all.body.itemsCleared).toBe(1199);
    expect(await scanAll(redis, `${CACHE}*`)).toHaveLength(0);
    expect(await scanAll(redis, `${OTHER}*`)).toHaveLength(5);
    expect(durable(await scanAll(redis, `${t.config.options.queuePrefix}:*`))).toEqual(queueKeys);
    expect((await t.app.get(JobsQueue).jobInfo(`keep-${tag}`))?.state).toBe('delayed');
  });

  it('refuses keys outside the prefixes, the queue keys and glob tricks, and clears nothing', async () => {
    await seed(CACHE, 3);
    for (const key of [`${OTHER}*`, `${t.config.options.queuePrefix}:*`, '*', `${CACHE}a*b*`, `${CACHE}[ab]*`]) {
      const r = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'redis', keys: [key] } });
      expect(r.status).toBe(400);
    }
    expect(await scanAll(redis, `${CACHE}*`)).toHaveLength(3);
    expect((await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'everything' } })).status).toBe(400);
  });

  it('refuses at start-up a cache prefix that overlaps the queue prefix', () => {
    for (const p of ['bm', 'bm-queue', 'bm-queue:', 'bm-queue:jobs:']) {
      expect(() => loadConfig(testEnv({ QUEUE_PREFIX: 'bm-queue', CACHE_REDIS_PREFIXES: p }))).toThrow(ConfigError);
    }
    expect(() => loadConfig(testEnv({ QUEUE_PREFIX: 'bm-queue', CACHE_SESSION_PREFIXES: 'sess*' }))).toThrow(/must be literal/);
    expect(() => loadConfig(testEnv({ CACHE_FILE_ROOT: '/' }))).toThrow(/CACHE_FILE_ROOT/);
    expect(loadConfig(testEnv({ QUEUE_PREFIX: 'bm-queue', CACHE_REDIS_PREFIXES: 'bm-queue-cache:' })).options.cache?.redisPrefixes).toEqual(['bm-queue-cache:']);
  });

  it('clears sessions under their own prefix', async () => {
    await seed(SESSION, 7);
    const r = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'session' } });
    expect(r.body.results).toEqual([{ type: 'session', items: 7 }]);
    expect(await scanAll(redis, `${SESSION}*`)).toHaveLength(0);
  });

  it('clears the in-memory cache-manager store, all of it or named keys', async () => {
    const memory = t.app.get<Cache>(CACHE_MANAGER);
    await memory.mset([{ key: 'a', value: 1 }, { key: 'b', value: 2 }, { key: 'c', value: 3 }]);
    const one = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'memory', keys: ['a', 'missing'] } });
    expect(one.body.results).toEqual([{ type: 'memory', items: 1 }]);
    expect(await memory.get('a')).toBeUndefined();
    expect(await memory.get('b')).toBe(2);
    const all = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'memory' } });
    expect(all.body.results[0].type).toBe('memory');
    expect(await memory.get('b')).toBeUndefined();
    expect(await memory.get('c')).toBeUndefined();
  });

  it('clears files only inside the root and never follows a symlink out of it', async () => {
    mkdirSync(join(fileRoot, 'uploads', 'deep'), { recursive: true });
    writeFileSync(join(fileRoot, 'uploads', 'a.bin'), 'x');
    writeFileSync(join(fileRoot, 'uploads', 'deep', 'b.bin'), 'y');
    writeFileSync(join(fileRoot, 'tmp-1'), 'z');
    symlinkSync(outside, join(fileRoot, 'escape'));
    symlinkSync(join(outside, 'precious.txt'), join(fileRoot, 'uploads', 'link.txt'));

    const traversal = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'file', keys: ['../outside/precious.txt'] } });
    expect(traversal.status).toBe(400);
    const viaLink = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'file', keys: ['escape/precious.txt'] } });
    expect(viaLink.status).toBe(400);
    expect(viaLink.body.message).toContain('symlink');

    const some = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'file', keys: ['tmp-*'] } });
    expect(some.body.results).toEqual([{ type: 'file', items: 1 }]);
    expect(existsSync(join(fileRoot, 'uploads', 'a.bin'))).toBe(true);

    const all = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'file' } });
    expect(all.body.results).toEqual([{ type: 'file', items: 4 }]); // a.bin, deep/b.bin, two links
    expect(readdirSync(fileRoot)).toEqual([]);
    expect(readFileSync(join(outside, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(readdirSync(outside)).toEqual(['precious.txt']);
  });

  it('clears everything with `all`, reporting each kind', async () => {
    await seed(CACHE, 4);
    await seed(SESSION, 2);
    writeFileSync(join(fileRoot, 'f'), '1');
    const r = await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'all' } });
    expect(r.status).toBe(200);
    const by = Object.fromEntries(r.body.results.map((x: any) => [x.type, x]));
    expect(by.redis.items).toBe(4); // the refusal test's three keys have the same names
    expect(by.session.items).toBe(2);
    expect(by.file.items).toBe(1);
    expect(by.database.skipped).toMatch(/not enabled/);
    expect(by.memory).toBeDefined();
    expect(r.body.itemsCleared).toBe(4 + 2 + 1 + (by.memory.items ?? 0));
    expect(durable(await scanAll(redis, `${t.config.options.queuePrefix}:*`))).toEqual(queueKeys);
  });

  it('keeps a history, audits each clear, and is admin only', async () => {
    const h = await api(t, 'GET', '/api/v1/cache/history?limit=100');
    expect(h.status).toBe(200);
    expect(h.body.total).toBe(8);
    expect(h.body.items[0]).toMatchObject({ cacheType: 'all', actorId: 'tester', outcome: 'success' });
    expect(h.body.items.find((e: any) => e.keys?.includes(`${CACHE}users:7`))).toMatchObject({ cacheType: 'redis', itemsCleared: 31 });

    const audited = await waitFor(async () => {
      const r = await api(t, 'GET', '/api/v1/audit?action=cache.clear&limit=100');
      return r.body.total === 8 ? r.body.items : undefined;
    }, 'cache.clear audit events', 10_000);
    expect(audited[0]).toMatchObject({ actorId: 'tester', resourceType: 'cache', resource: h.body.items[0].id, severity: 'warning' });

    expect((await api(t, 'DELETE', '/api/v1/cache', { body: { cacheType: 'all' }, token: t.token('operator') })).status).toBe(403);
    expect((await api(t, 'GET', '/api/v1/cache/history', { token: t.token('operator') })).status).toBe(403);
    expect((await api(t, 'GET', '/api/v1/cache/history')).body.total).toBe(8);
  });
});
