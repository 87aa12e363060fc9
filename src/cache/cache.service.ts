import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { CACHE_MANAGER, type Cache } from '@nestjs/cache-manager';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { DataSource, Repository } from 'typeorm';
import type { Actor } from '../auth/roles.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { invalid } from '../common/errors.js';
import { toPage } from '../common/page.dto.js';
import { RedisConnections } from '../common/redis.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions, type CacheOptions } from '../config/options.js';
import { CacheType, type CacheClearResponse, type CacheHistoryQuery, type CacheKindResult, type ClearCacheDto } from './dto/cache.dto.js';
import { CacheClearEvent } from './entities/cache-clear-event.entity.js';
import { emptyDir, keyProblem, removeInside, removeMatching } from './file-sweeper.js';
import { sweepPrefix } from './redis-key-sweeper.js';

const ALL_KINDS = [CacheType.Redis, CacheType.Session, CacheType.Memory, CacheType.Database, CacheType.File];

/**
 * Clears caches of several kinds and keeps a history. Redis keys only under configured prefixes
 * (SCAN + UNLINK; never KEYS, FLUSHALL or the job queue's keys); files only inside the root.
 */
@Injectable()
export class CacheService {
  private readonly logger = new Logger('Cache');
  private readonly cfg: Required<Omit<CacheOptions, 'redisUrl' | 'fileRoot'>> & Pick<CacheOptions, 'redisUrl' | 'fileRoot'>;
  private redis?: Redis;

  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @InjectRepository(CacheClearEvent, CATALOG_CONNECTION) private readonly history: Repository<CacheClearEvent>,
    @InjectDataSource(CATALOG_CONNECTION) private readonly catalog: DataSource,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    private readonly redisConnections: RedisConnections,
    @Optional() @Inject(CACHE_MANAGER) private readonly memory?: Cache,
  ) {
    // Checked at start-up with the other options (validateOptions → cacheOptionProblems).
    this.cfg = { redisPrefixes: [], sessionPrefixes: [], ...options.cache };
  }

  async clear(dto: ClearCacheDto, actor: Actor): Promise<CacheClearResponse> {
    const kinds = dto.cacheType === CacheType.All ? ALL_KINDS : [dto.cacheType];
    const keys = dto.keys?.length ? dto.keys : undefined;
    // Refuse bad keys before anything is cleared.
    const plans = new Map<CacheType, () => Promise<CacheKindResult>>();
    for (const kind of kinds) plans.set(kind, await this.plan(kind, keys, dto.cacheType === CacheType.All));

    const started = Date.now();
    const results: CacheKindResult[] = [];
    for (const [kind, run] of plans) {
      try {
        results.push(await run());
      } catch (err) {
        this.logger.warn(`clearing ${kind} failed: ${(err as Error).message}`);
        results.push({ type: kind, items: null, error: (err as Error).message });
      }
    }
    const row: CacheClearEvent = {
      id: randomUUID(),
      occurredAt: new Date(),
      actorId: actor.sub.slice(0, 128),
      actorName: actor.name?.slice(0, 128) ?? null,
      cacheType: dto.cacheType,
      keys: keys ?? null,
      itemsCleared: results.reduce((n, r) => n + (r.items ?? 0), 0),
      results: results as unknown as Array<Record<string, unknown>>,
      outcome: results.some((r) => r.error) ? 'failure' : 'success',
      durationMs: Date.now() - started,
    };
    await this.history.insert(row);
    this.events.emit('cache.cleared', {
      clear: { id: row.id, cacheType: row.cacheType, itemsCleared: row.itemsCleared },
      detail: { keys: row.keys, results },
      outcome: row.outcome,
      actor,
    });
    return { id: row.id, cacheType: row.cacheType, itemsCleared: row.itemsCleared, results, outcome: row.outcome, durationMs: row.durationMs };
  }

  async list(q: CacheHistoryQuery) {
    const [items, total] = await this.history.findAndCount({ order: { occurredAt: 'DESC', id: 'DESC' }, skip: (q.page - 1) * q.limit, take: q.limit });
    return toPage(items, total, q);
  }

  /** Validates the request for one kind and returns the work; throws 400 on a refused key. */
  private async plan(kind: CacheType, keys: string[] | undefined, all: boolean): Promise<() => Promise<CacheKindResult>> {
    switch (kind) {
      case CacheType.Redis:
      case CacheType.Session: {
        const prefixes = kind === CacheType.Redis ? this.cfg.redisPrefixes : this.cfg.sessionPrefixes;
        const setting = kind === CacheType.Redis ? 'CACHE_REDIS_PREFIXES' : 'CACHE_SESSION_PREFIXES';
        if (!prefixes.length) return async () => ({ type: kind, items: 0, skipped: `no prefixes configured (${setting})` });
        const literals = keys && !all ? keys.map((k) => this.redisTarget(k, prefixes)) : prefixes.map((p) => ({ literal: p, exact: false }));
        return async () => {
          const redis = this.client();
          let items = 0;
          for (const t of literals) {
            if (t.exact) items += this.isQueueKey(t.literal) ? 0 : await redis.unlink(t.literal);
            else items += await sweepPrefix(redis, t.literal, (k) => this.isQueueKey(k));
          }
          return { type: kind, items };
        };
      }
      case CacheType.Memory: {
        const memory = this.memory;
        if (!memory) return async () => ({ type: kind, items: 0, skipped: 'no cache-manager store is registered' });
        if (keys && !all) {
          return async () => {
            const found = (await memory.mget(keys)).filter((v) => v !== undefined && v !== null).length;
            await memory.mdel(keys);
            return { type: kind, items: found };
          };
        }
        return async () => {
          const items = countMemory(memory);
          await memory.clear();
          return { type: kind, items };
        };
      }
      case CacheType.Database: {
        const cache = this.catalog.queryResultCache;
        if (!cache) return async () => ({ type: kind, items: 0, skipped: 'the catalog query-result cache is not enabled' });
        return async () => {
          await cache.clear();
          return { type: kind, items: null };
        };
      }
      case CacheType.File: {
        const root = this.cfg.fileRoot;
        if (!root) return async () => ({ type: kind, items: 0, skipped: 'no file cache root configured (CACHE_FILE_ROOT)' });
        if (!keys || all) return async () => ({ type: kind, items: await emptyDir(root) });
        for (const key of keys) {
          if (isNamePrefix(key)) continue;
          const problem = await keyProblem(root, key).catch(() => `"${key.slice(0, 100)}" cannot be resolved`);
          if (problem) throw invalid(problem);
        }
        return async () => {
          let items = 0;
          for (const key of keys) items += isNamePrefix(key) ? await removeMatching(root, key.slice(0, -1)) : await removeInside(root, key);
          return { type: kind, items };
        };
      }
      default:
        throw invalid(`Unknown cache type ${String(kind)}`);
    }
  }

  /** An exact key or a `prefix*` pattern, which must lie inside one of the prefixes. */
  private redisTarget(key: string, prefixes: string[]): { literal: string; exact: boolean } {
    const exact = !key.endsWith('*');
    const literal = exact ? key : key.slice(0, -1);
    if (/[*?[\]\\]/.test(literal)) throw invalid(`Key "${key.slice(0, 100)}": only a trailing * is allowed`);
    if (!prefixes.some((p) => literal.startsWith(p)) || this.isQueueKey(literal)) {
      throw invalid(`Key "${key.slice(0, 100)}" is outside the configured cache prefixes (${prefixes.join(', ')})`);
    }
    return { literal, exact };
  }

  private isQueueKey(key: string): boolean {
    return key.startsWith(`${this.options.queuePrefix}:`);
  }

  private client(): Redis {
    this.redis ??= this.redisConnections.create(this.cfg.redisUrl ?? this.options.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 5_000 });
    return this.redis;
  }
}

/** `name*`: the top-level entries of the file root whose names start with `name`. */
function isNamePrefix(key: string): boolean {
  return key.endsWith('*') && !key.slice(0, -1).includes('/');
}

/** Entries of in-memory stores (a Map behind Keyv), or null when a store cannot say. */
function countMemory(cache: Cache): number | null {
  let n = 0;
  for (const keyv of cache.stores ?? []) {
    const store = (keyv as unknown as { store?: unknown }).store;
    if (store instanceof Map) n += store.size;
    else return null;
  }
  return n;
}
