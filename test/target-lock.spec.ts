import { afterAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { databaseKey, type DatabaseLocation } from '../src/common/database-key.js';
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
    const h = await a.acquire('app:db1', 'restore:1', { waitMs: 0 });
    expect(await b.tryAcquire('app:db1', 'backup:2')).toBeUndefined();
    expect(await b.tryAcquire('app:db2', 'backup:2')).toBeDefined(); // another database is another lock
    await new Promise((r) => setTimeout(r, 1000)); // > 3 TTLs: renewal keeps it
    expect(await b.holder('app:db1')).toBe('restore:1');
    const busy = await b.acquire('app:db1', 'backup:2', { waitMs: 200, pollMs: 50 }).catch((e) => e);
    expect(busy).toBeInstanceOf(TargetLockBusyError);
    expect(busy.message).toContain('restore:1');
    const waiting = b.acquire('app:db1', 'backup:2', { waitMs: 5000, pollMs: 50 });
    await new Promise((r) => setTimeout(r, 200));
    await h.release();
    const h2 = await waiting;
    expect(await a.holder('app:db1')).toBe('backup:2');
    await h.release(); // a stale handle cannot remove the new holder's lock
    expect(await a.holder('app:db1')).toBe('backup:2');
    expect(h2.signal.aborted).toBe(false);
    await h2.release();
  });

  it('is released when its holder dies (no renewal) within one TTL', async () => {
    const dying = client();
    const a = new TargetLock(dying, prefix, 400);
    await a.acquire('app:crash', 'restore:dead', { waitMs: 0 });
    dying.disconnect(); // the process is gone: no more renewals
    const b = new TargetLock(client(), prefix, 400);
    const started = Date.now();
    const h = await b.acquire('app:crash', 'backup:alive', { waitMs: 3000, pollMs: 50 });
    expect(Date.now() - started).toBeLessThan(1000);
    await h.release();
  });

  it('signals the holder when its lock was taken over', async () => {
    const r = client();
    const a = new TargetLock(r, prefix, 300);
    const h = await a.acquire('app:lost', 'restore:x', { waitMs: 0 });
    await r.set(`${prefix}:db-lock:app:lost`, 'someone|else');
    await new Promise((res) => setTimeout(res, 250));
    expect(h.signal.aborted).toBe(true);
    await h.release();
    expect(await a.holder('app:lost')).toBe('someone');
  });

  it('is one lock per physical database, whichever target name or host spelling reaches it', async () => {
    const a = new TargetLock(client(), prefix, 2000);
    const b = new TargetLock(client(), prefix, 2000);
    // Two targets ("app" and "app2") configured with different spellings of one server.
    const viaApp: DatabaseLocation = { engine: 'postgres', host: '127.0.0.1', port: 5432, database: 'shop' };
    const viaApp2: DatabaseLocation = { engine: 'postgres', host: 'LocalHost', port: 5432, database: 'shop' };
    const h = await a.acquire(databaseKey(viaApp), 'restore:app', { waitMs: 0 });
    expect(await b.tryAcquire(databaseKey(viaApp2), 'backup:app2')).toBeUndefined();
    expect(await b.holder(databaseKey({ ...viaApp2, host: '::1' }))).toBe('restore:app');
    // Another database, port or engine on the same server is another lock.
    for (const other of [{ ...viaApp, database: 'shop2' }, { ...viaApp, port: 5433 }, { ...viaApp, engine: 'mysql' as const }]) {
      const o = await b.tryAcquire(databaseKey(other), 'backup:other');
      expect(o).toBeDefined();
      await o!.release();
    }
    await h.release();
    expect(await b.holder(databaseKey(viaApp2))).toBeUndefined();
  });
});

describe('databaseKey', () => {
  const at = (host: string, database = 'app', port = 5432): string => databaseKey({ engine: 'postgres', host, port, database });

  it('treats every loopback spelling and any letter case of a host as one host', () => {
    const key = at('localhost');
    for (const h of ['127.0.0.1', '::1', '[::1]', '0:0:0:0:0:0:0:1', 'LOCALHOST', 'localhost.', '127.0.1.1']) expect(at(h)).toBe(key);
    expect(at('DB.Example.COM')).toBe(at('db.example.com'));
    expect(at('db.example.com')).not.toBe(key);
    expect(at('10.0.0.1')).not.toBe(at('10.0.0.2'));
  });

  it('names the engine, port and database (in any case), and stays short for very long host names', () => {
    expect(at('localhost', 'App')).toBe(at('localhost', 'app'));
    expect(at('localhost', 'app', 5433)).not.toBe(at('localhost'));
    expect(databaseKey({ engine: 'mysql', host: 'localhost', port: 5432, database: 'app' })).not.toBe(at('localhost'));
    expect(at('localhost')).toBe('postgres:localhost:5432:app');
    const long = at(`${'a'.repeat(240)}.example.com`);
    expect(long.length).toBeLessThanOrEqual(128);
    expect(long).not.toBe(at(`${'b'.repeat(240)}.example.com`));
  });
});
