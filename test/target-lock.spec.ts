import { afterAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TargetLock, TargetLockBusyError } from '../src/common/target-lock.js';
import { REDIS_URL, dropQueueKeys } from './support/app.js';

describe('TargetLock (Redis)', () => {
  const prefix = `bmtest-lock-${randomBytes(4).toString('hex')}`;
  const clients: Redis[] = [];
  const client = () => {
    const c = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await dropQueueKeys(prefix);
  });

  it('is exclusive across clients, renewed while held, and released only by its holder', async () => {
    const a = new TargetLock(client(), prefix, 300);
    const b = new TargetLock(client(), prefix, 300);
    const h = await a.acquire('app', 'db1', 'restore:1', { waitMs: 0 });
    expect(await b.tryAcquire('app', 'db1', 'backup:2')).toBeUndefined();
    expect(await b.tryAcquire('app', 'db2', 'backup:2')).toBeDefined(); // another database is another lock
    await new Promise((r) => setTimeout(r, 1000)); // > 3 TTLs: renewal keeps it
    expect(await b.holder('app', 'db1')).toBe('restore:1');
    const busy = await b.acquire('app', 'db1', 'backup:2', { waitMs: 200, pollMs: 50 }).catch((e) => e);
    expect(busy).toBeInstanceOf(TargetLockBusyError);
    expect(busy.message).toContain('restore:1');
    const waiting = b.acquire('app', 'db1', 'backup:2', { waitMs: 5000, pollMs: 50 });
    await new Promise((r) => setTimeout(r, 200));
    await h.release();
    const h2 = await waiting;
    expect(await a.holder('app', 'db1')).toBe('backup:2');
    await h.release(); // a stale handle cannot remove the new holder's lock
    expect(await a.holder('app', 'db1')).toBe('backup:2');
    expect(h2.signal.aborted).toBe(false);
    await h2.release();
  });

  it('is released when its holder dies (no renewal) within one TTL', async () => {
    const dying = client();
    const a = new TargetLock(dying, prefix, 400);
    await a.acquire('app', 'crash', 'restore:dead', { waitMs: 0 });
    dying.disconnect(); // the process is gone: no more renewals
    const b = new TargetLock(client(), prefix, 400);
    const started = Date.now();
    const h = await b.acquire('app', 'crash', 'backup:alive', { waitMs: 3000, pollMs: 50 });
    expect(Date.now() - started).toBeLessThan(1000);
    await h.release();
  });

  it('signals the holder when its lock was taken over', async () => {
    const r = client();
    const a = new TargetLock(r, prefix, 300);
    const h = await a.acquire('app', 'lost', 'restore:x', { waitMs: 0 });
    await r.set(`${prefix}:target-lock:app:lost`, 'someone|else');
    await new Promise((res) => setTimeout(res, 250));
    expect(h.signal.aborted).toBe(true);
    await h.release();
    expect(await a.holder('app', 'lost')).toBe('someone');
  });
});
