import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { randomBytes } from 'node:crypto';
import { EventRelay, isRelayedEvent } from '../src/common/event-relay.js';
import { RedisConnections } from '../src/common/redis.js';
import type { BackupManagerOptions } from '../src/config/options.js';
import { dropQueueKeys, REDIS_URL } from './support/app.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits until every process heard `name` at least once (or 10 s), then a little longer, so a second delivery would show. */
async function heardEverywhere(procs: Array<{ heard: Array<{ name: string }> }>, name: string) {
  for (const end = Date.now() + 10_000; Date.now() < end && !procs.every((p) => p.heard.some((h) => h.name === name)); ) await sleep(50);
  await sleep(300);
}

/** Three "processes" (emitter + relay + Redis clients each) on one real Redis and one prefix. */
describe('domain events relayed between processes through Redis', () => {
  const queuePrefix = `bmtest-relay-${randomBytes(4).toString('hex')}`;
  const procs: Array<{ emitter: EventEmitter2; relay: EventRelay; redis: RedisConnections; heard: Array<{ name: string; payload: any }> }> = [];

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const options = { redisUrl: REDIS_URL, queuePrefix, relayEvents: true } as BackupManagerOptions;
      const emitter = new EventEmitter2({ wildcard: true, delimiter: '.' });
      const redis = new RedisConnections(options);
      const relay = new EventRelay(emitter, options, redis);
      const heard: Array<{ name: string; payload: any }> = [];
      emitter.onAny((name, payload) => void heard.push({ name: String(name), payload }));
      relay.onApplicationBootstrap();
      procs.push({ emitter, relay, redis, heard });
    }
    // Subscriptions are asynchronous: wait until Redis counts all three.
    const probe = procs[0].redis.create(REDIS_URL, {});
    for (let i = 0; i < 50; i++) {
      const [, n] = (await probe.pubsub('NUMSUB', `${queuePrefix}:events`)) as [string, number];
      if (Number(n) === 3) break;
      await sleep(100);
    }
  });

  afterAll(async () => {
    for (const p of procs) {
      p.relay.onApplicationShutdown();
      p.redis.onApplicationShutdown();
    }
    await dropQueueKeys(queuePrefix);
  });

  it('delivers an event once to every other process, never back to its own, with Dates and without secrets', async () => {
    const createdAt = new Date('2026-11-30T10:11:12.345Z');
    procs[0].emitter.emit('backup.completed', {
      record: { id: 'b1', status: 'COMPLETED', createdAt, metadata: { password: 'hunter2', nested: { apiToken: 'tok-123', rows: 5 } } },
      actor: { sub: 'olga', role: 'operator' },
    });
    procs[0].emitter.emit('app.private', { secret: 'never leaves' });
    await heardEverywhere(procs, 'backup.completed');
    for (const p of procs.slice(1)) {
      const got = p.heard.filter((h) => h.name === 'backup.completed');
      expect(got).toHaveLength(1);
      expect(isRelayedEvent(got[0].payload)).toBe(true);
      expect(got[0].payload.record).toMatchObject({ id: 'b1', status: 'COMPLETED', metadata: { nested: { rows: 5 } } });
      expect(got[0].payload.record.createdAt).toEqual(createdAt);
      expect(got[0].payload.record.createdAt).toBeInstanceOf(Date);
      expect(JSON.stringify(got[0].payload)).not.toMatch(/hunter2|tok-123/);
      expect(p.heard.some((h) => h.name === 'app.private')).toBe(false);
    }
    // The origin heard its own emit once (locally), not a second time from Redis.
    expect(procs[0].heard.filter((h) => h.name === 'backup.completed')).toHaveLength(1);
    expect(isRelayedEvent(procs[0].heard.find((h) => h.name === 'backup.completed')!.payload)).toBe(false);
  });

  it('does not publish a relayed event again (no echo between processes)', async () => {
    for (const p of procs) p.heard.length = 0;
    procs[1].emitter.emit('restore.failed', { run: { id: 'r1', status: 'FAILED' } });
    await heardEverywhere(procs, 'restore.failed');
    expect(procs.map((p) => p.heard.filter((h) => h.name === 'restore.failed').length)).toEqual([1, 1, 1]);
  });
});
