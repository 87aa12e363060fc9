import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { open, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource, Repository } from 'typeorm';
import { BackupRecord } from '../backup/entities/backup-record.entity.js';
import { findNewestGood } from '../backup/good-backup.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { ensurePrivateDir } from '../common/secure-fs.js';
import { RedisConnections } from '../common/redis.js';
import { BACKUP_MANAGER_OPTIONS, defaultMonitoringOptions, type BackupManagerOptions, type MonitoringOptions } from '../config/options.js';

/**
 * Health indicators for terminus: catalog, Redis, storage writable, free space, and per-target
 * backup freshness. Redis is probed on its own connection without an offline queue, so an outage
 * answers at once instead of queueing pings.
 */
@Injectable()
export class SystemHealthService {
  readonly monitoring: MonitoringOptions;
  private redis?: Redis;

  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @InjectDataSource(CATALOG_CONNECTION) private readonly dataSource: DataSource,
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    private readonly indicator: HealthIndicatorService,
    private readonly redisConnections: RedisConnections,
  ) {
    this.monitoring = { ...defaultMonitoringOptions(), ...options.monitoring };
  }

  /** The checks of `/health/ready`. */
  readiness() {
    return [() => this.catalog(), () => this.redisPing(), () => this.storageWritable(), () => this.freeSpace()];
  }

  catalog(): PromiseLike<HealthIndicatorResult<'catalog'>> {
    return this.indicator
      .check('catalog')
      .attempt(async () => {
        await this.dataSource.query('SELECT 1');
        return { type: this.dataSource.options.type };
      })
      .withTimeout(this.monitoring.checkTimeoutMs);
  }

  redisPing(): PromiseLike<HealthIndicatorResult<'redis'>> {
    return this.indicator
      .check('redis')
      .attempt(async ({ signal }) => {
        const client = this.client();
        if (client.status !== 'ready') await once(client, 'ready', { signal });
        const reply = await client.ping();
        if (reply !== 'PONG') throw new Error(`unexpected PING reply ${reply}`);
      })
      .withTimeout(this.monitoring.checkTimeoutMs);
  }

  storageWritable(): PromiseLike<HealthIndicatorResult<'storage'>> {
    return this.indicator
      .check('storage')
      .attempt(async () => {
        const dir = this.options.storageDir;
        await ensurePrivateDir(dir);
        const probe = join(dir, `.health-${process.pid}-${randomBytes(4).toString('hex')}`);
        const fh = await open(probe, 'wx', 0o600);
        try {
          await fh.writeFile('ok');
          await fh.sync();
        } finally {
          await fh.close();
          await unlink(probe).catch(() => undefined);
        }
      })
      .withTimeout(this.monitoring.checkTimeoutMs);
  }

  async freeSpace(): Promise<HealthIndicatorResult<'disk'>> {
    const session = this.indicator.check('disk');
    try {
      await ensurePrivateDir(this.options.storageDir);
      const fs = await statfs(this.options.storageDir);
      const freeBytes = fs.bavail * fs.bsize;
      const data = { freeBytes, minFreeBytes: this.monitoring.minFreeBytes };
      if (freeBytes < this.monitoring.minFreeBytes) {
        return session.down({ ...data, message: `only ${mib(freeBytes)} MiB free on the storage filesystem; at least ${mib(this.monitoring.minFreeBytes)} MiB required` });
      }
      return session.up(data);
    } catch (err) {
      return session.down({ message: (err as Error).message });
    }
  }

  /** One indicator per target whose freshness is checked (`freshness:<target>`). */
  freshnessChecks() {
    return this.options.targets
      .filter((t) => this.maxAgeOf(t.name) > 0)
      .map((t) => () => this.freshness(t.name));
  }

  maxAgeOf(target: string): number {
    return this.monitoring.targetMaxBackupAgeMs[target] ?? this.monitoring.maxBackupAgeMs;
  }

  async freshness(target: string): Promise<HealthIndicatorResult<string>> {
    const session = this.indicator.check(`freshness:${target}`);
    const maxAgeMs = this.maxAgeOf(target);
    const newest = await this.newestGood(target);
    if (!newest) return session.down({ maxAgeHours: hours(maxAgeMs), message: `no successful backup of "${target}" that holds its data (full scope, schema and data) yet` });
    const at = newest.completedAt ?? newest.createdAt;
    const ageMs = Date.now() - at.getTime();
    const data = { backupId: newest.id, completedAt: at.toISOString(), ageHours: hours(ageMs), maxAgeHours: hours(maxAgeMs) };
    if (ageMs > maxAgeMs) {
      return session.down({ ...data, message: `newest good backup of "${target}" is ${hours(ageMs)} h old; at most ${hours(maxAgeMs)} h allowed` });
    }
    return session.up(data);
  }

  /** Newest good backup of a target that holds its data (see `findNewestGood`); soft-deleted ones excluded. */
  newestGood(target: string): Promise<BackupRecord | null> {
    return findNewestGood(this.records, target);
  }

  private client(): Redis {
    this.redis ??= this.redisConnections.create(this.options.redisUrl, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: this.monitoring.checkTimeoutMs,
      retryStrategy: (n) => Math.min(n * 200, 2_000),
    });
    return this.redis;
  }

}

const mib = (b: number) => Math.floor(b / 1024 / 1024);
const hours = (ms: number) => Math.round((ms / 3600_000) * 100) / 100;

