import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { Redis } from 'ioredis';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';

/**
 * Token of the library's one Redis connection (ioredis), shared by the BullMQ queue, the request
 * gate, the database locks, the scratch-database leases and the scheduler's claims. The BullMQ
 * worker opens its own (blocking) connections.
 */
export const REDIS = Symbol('BACKUP_MANAGER_REDIS');

/** Disconnects the shared connection on shutdown, after the workers have drained. */
@Injectable()
export class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Pick<Redis, 'disconnect'>) {}

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}

/** The Redis connection and its closer. `maxRetriesPerRequest: null`: BullMQ requires it. */
export const redisProviders: Provider[] = [
  {
    provide: REDIS,
    inject: [BACKUP_MANAGER_OPTIONS],
    useFactory: (options: BackupManagerOptions) => {
      const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
      // Reported by the callers whose commands fail (health, 503s); ioredis reconnects on its own.
      redis.on('error', () => undefined);
      return redis;
    },
  },
  RedisCloser,
];
