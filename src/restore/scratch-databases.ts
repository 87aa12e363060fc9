import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { EngineError } from '../common/errors.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import type { ScratchLease, ScratchRegistry } from '../engines/restorer.interface.js';
import { Restorers } from '../engines/restorers.js';
import type { Redis } from 'ioredis';
import { REDIS } from '../common/redis.js';
import { TargetsService, type ResolvedTarget } from '../targets/targets.service.js';
import { logLine } from '../common/log-line.js';

/** The only names the janitor ever drops: restore scratch and drill databases. */
export const SCRATCH_DATABASE = /^bm_(rs|drill)_[0-9a-f]{12}$/;

/** Extends the lease only if it still holds our token. */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
/** Deletes the lease if it holds our token; with ARGV[2] = 1 also forgets the database. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
if ARGV[2] == '1' then redis.call('hdel', KEYS[2], ARGV[3]) end
return 1`;

interface ScratchEntry {
  target: string;
  engine: string;
  host: string;
  port: number;
  at: string;
}

/**
 * Scratch databases (`bm_rs_*` of MySQL restores, `bm_drill_*` of drills) of this deployment.
 * Each is recorded in Redis under the queue prefix before it is created, with a lease its user
 * renews while it works. A janitor (at worker start and every stalled-check interval) drops those
 * whose lease has expired, i.e. whose worker died or froze past its job lock, and nothing else:
 * never a name it did not record, never `bm_old_*` (tables kept after a failed rollback), never a
 * scratch database of another deployment (another queue prefix) or one still in use.
 */
@Injectable()
export class ScratchDatabases implements ScratchRegistry, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ScratchDatabases');
  private readonly registry: string;
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<number>;

  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly targets: TargetsService,
    private readonly restorers: Restorers,
  ) {
    this.registry = `${options.queuePrefix}:scratch-dbs`;
  }

  onApplicationBootstrap(): void {
    if (!this.options.workers) return;
    const tick = () => void this.sweep().catch((e: Error) => this.logger.warn(`scratch database sweep failed: ${e.message}`));
    tick();
    this.timer = setInterval(tick, this.options.queue.stalledIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private leaseKey(name: string): string {
    return `${this.options.queuePrefix}:scratch-lease:${name}`;
  }

  /** Records `name` and takes its lease; call before creating the database. */
  async claim(target: ResolvedTarget, name: string): Promise<ScratchLease> {
    if (!SCRATCH_DATABASE.test(name)) throw new EngineError(`not a scratch database name: ${name}`, { retryable: false });
    const key = this.leaseKey(name);
    const token = randomBytes(12).toString('hex');
    const ttl = this.options.queue.lockDurationMs;
    const entry: ScratchEntry = { target: target.name, engine: target.engine, host: target.host, port: target.port, at: new Date().toISOString() };
    await this.redis.multi().set(key, token, 'PX', ttl).hset(this.registry, name, JSON.stringify(entry)).exec();
    const renew = async () => Number(await this.redis.eval(RENEW, 1, key, token, String(ttl))) === 1;
    const timer = setInterval(() => void renew().catch(() => undefined), Math.max(50, Math.floor(ttl / 3)));
    timer.unref();
    return {
      held: () => renew(),
      release: async (dropped) => {
        clearInterval(timer);
        await this.redis.eval(RELEASE, 2, key, this.registry, token, dropped ? '1' : '0', name);
      },
    };
  }

  /** Drops the recorded scratch databases whose lease expired. @returns how many were dropped. */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    const all = await this.redis.hgetall(this.registry);
    let dropped = 0;
    for (const [name, raw] of Object.entries(all)) {
      if (!SCRATCH_DATABASE.test(name) || (await this.redis.exists(this.leaseKey(name)))) continue;
      let entry: ScratchEntry;
      let target: ResolvedTarget;
      try {
        entry = JSON.parse(raw) as ScratchEntry;
        target = await this.targets.resolve(entry.target);
      } catch (err) {
        this.logger.warn(logLine('cannot reach the server of a scratch database a stopped worker left behind; drop it by hand', { database: name, error: (err as Error).message }));
        continue;
      }
      if (target.engine !== entry.engine || target.host !== entry.host || target.port !== entry.port) {
        this.logger.warn(logLine(`target ${entry.target} now points at another server; drop the scratch database by hand`, { database: name, server: `${entry.host}:${entry.port}` }));
        continue;
      }
      await this.restorers.for(target.engine).dropDatabase(target, name);
      await this.redis.hdel(this.registry, name);
      dropped++;
      this.logger.warn(logLine('dropped a scratch database that a stopped worker left behind', { database: name, target: entry.target, since: entry.at }));
    }
    return dropped;
  }
}
