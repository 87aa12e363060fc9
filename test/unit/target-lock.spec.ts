import { describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { TargetLock, TargetLockBusyError } from '../../src/common/target-lock.js';
import { MemoryRedis } from './memory-redis.js';

function lock(ttlMs = 60_000) {
  const redis = new MemoryRedis();
  return { redis, locks: new TargetLock(redis as unknown as Redis, 'bm', ttlMs) };
}

describe('the target lock (in-memory Redis)', () => {
  it('is exclusive per database, and names its holder', async () => {
    const { locks } = lock();
    const a = await locks.tryAcquire('pg|h|5432|app', 'backup:1');
    expect(a?.key).toBe('bm:db-lock:pg|h|5432|app');
    expect(await locks.tryAcquire('pg|h|5432|app', 'restore:2')).toBeUndefined();
    expect(await locks.holder('pg|h|5432|app')).toBe('backup:1');
    // another database is free
    const other = await locks.tryAcquire('pg|h|5432|shop', 'restore:2');
    expect(other).toBeDefined();
    await a!.release();
    await other!.release();
    expect(await locks.holder('pg|h|5432|app')).toBeUndefined();
  });

  it('fails a wait that runs out with the holder named, and gives up at once with waitMs 0', async () => {
    const { locks } = lock();
    const a = await locks.tryAcquire('db', 'backup:1');
    const err = await locks.acquire('db', 'restore:2', { waitMs: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetLockBusyError);
    // "gives up at once": it sleeps no poll interval, so it waited only as long as the one check took
    const message = (err as Error).message;
    expect(message).toMatch(/^the database lock bm:db-lock:db is held by backup:1 \(waited \d+ ms\)$/);
    expect(Number(/waited (\d+) ms/.exec(message)![1])).toBeLessThan(250); // under one default poll interval
    const later = locks.acquire('db', 'restore:2', { waitMs: 5_000, pollMs: 5 });
    await a!.release();
    expect((await later).holder).toBe('restore:2');
    (await later).release();
  });

  it('never releases a lock that expired and was taken over by someone else', async () => {
    const { redis, locks } = lock(1_000);
    const a = await locks.tryAcquire('db', 'backup:1');
    redis.now += 1_001; // a's TTL ran out (its holder stalled)
    const b = await locks.tryAcquire('db', 'restore:2');
    expect(b).toBeDefined();
    await a!.release();
    expect(await locks.holder('db')).toBe('restore:2');
    await b!.release();
  });

  it('stops waiting when its signal aborts', async () => {
    const { locks } = lock();
    const a = await locks.tryAcquire('db', 'backup:1');
    const ac = new AbortController();
    const waiting = locks.acquire('db', 'restore:2', { waitMs: 60_000, pollMs: 5, signal: ac.signal });
    ac.abort('shutdown');
    await expect(waiting).rejects.toThrow('waiting for the database lock was aborted: shutdown');
    await a!.release();
  });

  it('keeps the locks of another kind of name apart from the databases', async () => {
    const { locks } = lock();
    const verify = locks.scope('verify');
    const a = await verify.tryAcquire('b1', 'drill:b1');
    expect(a?.key).toBe('bm:verify-lock:b1');
    expect(await locks.tryAcquire('b1', 'backup:1')).toBeDefined(); // the database named b1 is another lock
    expect(await locks.scope('verify').tryAcquire('b1', 'verify:b1')).toBeUndefined();
    const err = await verify.acquire('b1', 'verify:b1', { waitMs: 0 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^the verify lock bm:verify-lock:b1 is held by drill:b1 \(waited \d+ ms\)$/);
    expect(() => locks.scope('db')).toThrow('invalid lock kind');
    await a!.release();
    expect(await verify.holder('b1')).toBeUndefined();
  });
});
