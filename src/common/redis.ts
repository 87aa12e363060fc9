import { Inject, Injectable, OnApplicationShutdown, type Provider } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { RedisWatch } from '../queue/redis-watch.js';
import { TargetLock } from './target-lock.js';

/** The Redis connection the job queue, the database locks, leases and claims share. */
export const REDIS = Symbol('BACKUP_MANAGER_REDIS');

/**
 * The one place this library makes Redis clients: the shared connection (`REDIS`) and the
 * clients a service needs with other settings (its own URL, short timeouts for a health probe).
 * Every client gets an error listener (a client without one crashes the process when Redis goes
 * away) and is disconnected on shutdown, after the services using it have stopped (they depend
 * on this provider, so Nest shuts them down first).
 */
@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  private main?: Redis;
  private readonly clients = new Set<Redis>();

  constructor(@Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions) {}

  /**
   * The shared connection. BullMQ requires `maxRetriesPerRequest: null` on it. Lazy: it opens
   * when first used, and a Redis that is down costs no start-up time.
   */
  shared(): Redis {
    this.main ??= this.create(this.options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
    return this.main;
  }

  /** A client of the caller's own; closed with the others on shutdown. */
  create(url: string, opts: RedisOptions): Redis {
    const r = new Redis(url, opts);
    // Failed (re)connections become one warning with backoff (RedisWatch), never a stack trace.
    RedisWatch.for(url).watch(r);
    this.clients.add(r);
    return r;
  }

  onApplicationShutdown(): void {
    for (const r of this.clients) r.disconnect();
    this.clients.clear();
  }
}

/** `REDIS` and the database lock built on it, for the core module. */
export const redisProviders: Provider[] = [
  RedisConnections,
  { provide: REDIS, useFactory: (c: RedisConnections) => c.shared(), inject: [RedisConnections] },
  {
    provide: TargetLock,
    useFactory: (redis: Redis, options: BackupManagerOptions) => new TargetLock(redis, options.queuePrefix, options.queue.lockDurationMs),
    inject: [REDIS, BACKUP_MANAGER_OPTIONS],
  },
];
