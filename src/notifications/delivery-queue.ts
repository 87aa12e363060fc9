import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { REDIS } from '../common/redis.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { isConnectionError, RedisWatch } from '../queue/redis-watch.js';
import type { NotificationOptions } from './notification-options.js';

/**
 * Deliveries have a queue of their own: a message never waits behind a six-hour backup, and the
 * "no worker" alert still goes out when every backup worker is gone.
 */
export const NOTIFICATIONS_QUEUE = 'notifications';
const DELIVER_JOB = 'deliver';

/** Job data: the delivery's id, nothing else (never a secret, never the message). */
export interface DeliverJob {
  deliveryId: string;
}

/** Thrown by the handler when trying again cannot help; the job fails for good. */
export class PermanentDeliveryError extends Error {
  override readonly name = 'PermanentDeliveryError';
}

export type DeliveryHandler = (deliveryId: string, attempt: { number: number; last: boolean }) => Promise<void>;

/**
 * The notifications queue on BullMQ (the module's one BullMQ driver): producers add a delivery by
 * id, with retries and exponential backoff; a worker runs in every process of the module (API or
 * worker role): deliveries are small, and a process that serves the API can still alert.
 */
@Injectable()
export class DeliveryQueue implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Notifications');
  private readonly queue: Queue;
  private readonly watch: RedisWatch;
  private worker?: Worker;
  private handler?: DeliveryHandler;

  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @Inject(REDIS) redis: Redis,
  ) {
    this.watch = RedisWatch.for(options.redisUrl);
    this.queue = new Queue(NOTIFICATIONS_QUEUE, { connection: redis, prefix: options.queuePrefix });
    this.queue.on('error', (err) => (isConnectionError(err) ? this.watch.failed(err) : this.logger.error(`notification queue error: ${err.message}`)));
  }

  private get settings(): NotificationOptions {
    return this.options.notifications!;
  }

  setHandler(handler: DeliveryHandler): void {
    this.handler = handler;
  }

  async add(deliveryId: string): Promise<void> {
    await this.queue.add(DELIVER_JOB, { deliveryId } satisfies DeliverJob, {
      jobId: deliveryId,
      attempts: this.settings.attempts,
      backoff: { type: 'exponential', delay: this.settings.backoffMs },
      removeOnComplete: { age: 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker(NOTIFICATIONS_QUEUE, (job: Job<DeliverJob>) => this.process(job), {
      connection: { url: this.options.redisUrl, maxRetriesPerRequest: null },
      prefix: this.options.queuePrefix,
      concurrency: 4,
    });
    this.worker.on('error', (err) => (isConnectionError(err) ? this.watch.failed(err) : this.logger.error(`notification worker error: ${err.message}`)));
  }

  private async process(job: Job<DeliverJob>): Promise<void> {
    if (!this.handler) throw new Error('no delivery handler registered');
    const max = job.opts.attempts ?? 1;
    try {
      await this.handler(job.data.deliveryId, { number: job.attemptsMade + 1, last: job.attemptsMade + 1 >= max });
    } catch (err) {
      if (err instanceof PermanentDeliveryError) throw new UnrecoverableError(err.message);
      throw err;
    }
  }

  /**
   * Lets a delivery in flight finish for up to `shutdownGraceMs`, then forces the worker shut. A
   * BullMQ close waits for its connection to be ready, which never happens while Redis is away:
   * shutdown must not hang on it (a retried delivery is picked up by the next process).
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.worker) return;
    const closing = this.worker.close().catch(() => undefined);
    if (await bounded(closing, this.options.shutdownGraceMs)) return;
    await bounded(this.worker.close(true).catch(() => undefined), 5_000);
  }

  /** After the services that enqueue have stopped (an alert of the last moments is still queued). */
  async onApplicationShutdown(): Promise<void> {
    await bounded(this.queue.close().catch(() => undefined), 5_000);
  }
}

/** Whether `p` settled within `ms` (it keeps running either way). */
function bounded(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
}
