import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createHttpApp } from '../../src/app.factory.js';
import { signToken } from '../../src/auth/token-verifier.js';
import { Role } from '../../src/auth/roles.js';
import { loadConfig, type AppConfig } from '../../src/config/env.js';
import { JOBS_QUEUE } from '../../src/queue/jobs.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestApp {
  app: INestApplication;
  url: string;
  config: AppConfig;
  dataDir: string;
  /** Environment that starts another process (API or worker) on the same queue, catalog and storage. */
  env: Record<string, string>;
  token(role?: Role | `${Role}`, sub?: string): string;
  close(): Promise<void>;
}

/** A fresh data dir, a random queue prefix and a random JWT secret for one test file. */
export function testEnv(extra: Record<string, string> = {}): Record<string, string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bm-test-'));
  return {
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(24).toString('hex'),
    QUEUE_PREFIX: `bmtest-${randomBytes(4).toString('hex')}`,
    REDIS_URL,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    JOB_LOCK_DURATION_MS: '5000',
    JOB_STALLED_INTERVAL_MS: '2000',
    JOB_BACKOFF_MS: '200',
    SHUTDOWN_GRACE_MS: '2000',
    SCHEDULER_ENABLED: 'false',
    ...extra,
  };
}

/**
 * Starts the whole service (API + workers) in this process on a random port. `tweak` changes the
 * options the environment made, as a library user's `forRoot` would (values no variable reaches,
 * such as sub-minute intervals).
 */
export async function startTestApp(extra: Record<string, string> = {}, tweak?: (options: AppConfig['options']) => void): Promise<TestApp> {
  const env = testEnv(extra);
  const config = loadConfig(env);
  tweak?.(config.options);
  const app = await createHttpApp(config);
  await app.listen(0, '127.0.0.1');
  const addr = app.getHttpServer().address() as { port: number };
  const { jwtSecret } = config.options.auth;
  return {
    app,
    url: `http://127.0.0.1:${addr.port}`,
    config,
    dataDir: env.DATA_DIR,
    env,
    token: (role = Role.Admin, sub = 'tester') => signToken(jwtSecret, { sub, role: role as Role }, { expiresIn: '1h' }),
    close: async () => {
      await app.close();
      await dropQueueKeys(env.QUEUE_PREFIX);
      rmSync(env.DATA_DIR, { recursive: true, force: true });
    },
  };
}

/**
 * The BullMQ queue under `prefix`, for tests that steer it (pause, resume, plant a job) from
 * outside: the library's own facade exposes no BullMQ object. Close it when done.
 */
export function bullQueue(prefix: string): Queue {
  return new Queue(JOBS_QUEUE, { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix });
}

/** Pauses (no worker takes a job) or resumes the queue under `prefix`. */
export async function setQueuePaused(prefix: string, paused: boolean): Promise<void> {
  const q = bullQueue(prefix);
  try {
    await (paused ? q.pause() : q.resume());
  } finally {
    await q.close();
  }
}

/** Removes every Redis key of a test's queue prefix (SCAN + UNLINK). */
export async function dropQueueKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
