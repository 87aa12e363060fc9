import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Deletes the key only if it still holds our value. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** Extends the key's TTL only if it still holds our value. */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/** The lock could not be taken in time; `holder` names who has it (e.g. `restore:<id>`). */
export class TargetLockBusyError extends Error {
  constructor(
    readonly key: string,
    readonly holder: string | undefined,
    waitedMs: number,
    what = 'database lock',
  ) {
    super(`the ${what} ${key} is held by ${holder ?? 'another job'} (waited ${waitedMs} ms)`);
    this.name = 'TargetLockBusyError';
  }
}

export interface TargetLockHandle {
  readonly key: string;
  /** `kind:id` of the job holding the lock. */
  readonly holder: string;
  /** Aborts if the lock was lost (its TTL ran out or someone else holds it now). */
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** How long to wait for a busy lock; 0 fails at once. */
  waitMs: number;
  signal?: AbortSignal;
  pollMs?: number;
}

/**
 * One exclusive lock per physical database (`databaseKey()`: engine, host, port, name), shared by
 * backups, restores and safety backups of every target name that reaches the database, in any
 * worker process on the same Redis: `SET key value NX PX ttl`, where the value is the holder plus
 * a random token.
 * The holder renews the TTL every third of it while it runs, so a crashed holder's lock expires
 * within one TTL; release and renewal are compare-and-delete / compare-and-expire scripts, so a
 * holder that lost its lock can never remove another holder's.
 *
 * `scope(kind)` gives the same locks over names that are not databases (one per backup id for
 * its verifications), in a key space of their own.
 */
export class TargetLock {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly kind = 'db',
  ) {}

  /**
   * The same locks (same Redis, TTL and renewal) over names of another kind, under
   * `<prefix>:<kind>-lock:<name>`: e.g. `scope('verify')` locks backups by id.
   */
  scope(kind: string): TargetLock {
    if (!/^[a-z][a-z0-9-]*$/.test(kind) || kind === 'db') throw new Error(`invalid lock kind ${JSON.stringify(kind)}`);
    return new TargetLock(this.redis, this.prefix, this.ttlMs, kind);
  }

  /** The Redis key of the lock of the database `dbKey` (from `databaseKey()`), or of the name `dbKey` in a `scope()`. */
  key(dbKey: string): string {
    return `${this.prefix}:${this.kind}-lock:${dbKey}`;
  }

  /** How messages name this lock: `database lock`, `verify lock`, ... */
  private get what(): string {
    return this.kind === 'db' ? 'database lock' : `${this.kind} lock`;
  }

  /** `kind:id` of the current holder, if any. */
  async holder(dbKey: string): Promise<string | undefined> {
    const v = await this.redis.get(this.key(dbKey));
    return v ? v.slice(0, v.lastIndexOf('|')) : undefined;
  }

  async tryAcquire(dbKey: string, holder: string): Promise<TargetLockHandle | undefined> {
    const key = this.key(dbKey);
    const value = `${holder}|${randomBytes(12).toString('hex')}`;
    const ok = await this.redis.set(key, value, 'PX', this.ttlMs, 'NX');
    return ok === 'OK' ? this.handle(key, holder, value) : undefined;
  }

  /** Waits up to `waitMs` for the lock. @throws TargetLockBusyError when it stays busy. */
  async acquire(dbKey: string, holder: string, opts: AcquireOptions): Promise<TargetLockHandle> {
    const started = Date.now();
    const poll = opts.pollMs ?? 250;
    for (;;) {
      if (opts.signal?.aborted) throw new Error(`waiting for the ${this.what} was aborted: ${String(opts.signal.reason ?? 'shutdown')}`);
      const h = await this.tryAcquire(dbKey, holder);
      if (h) return h;
      const waited = Date.now() - started;
      if (waited >= opts.waitMs) throw new TargetLockBusyError(this.key(dbKey), await this.holder(dbKey), waited, this.what);
      await new Promise((r) => setTimeout(r, Math.min(poll, opts.waitMs - waited)));
    }
  }

  private handle(key: string, holder: string, value: string): TargetLockHandle {
    const lost = new AbortController();
    let released = false;
    const renew = async () => {
      try {
        const ok = await this.redis.eval(RENEW, 1, key, value, String(this.ttlMs));
        if (!ok && !released) lost.abort(new Error(`the ${this.what} ${key} was lost (it expired or was taken over)`));
      } catch {
        // Redis unreachable: keep trying until the TTL runs out; the next successful call decides.
      }
    };
    const timer = setInterval(() => void renew(), Math.max(50, Math.floor(this.ttlMs / 3)));
    timer.unref();
    return {
      key,
      holder,
      signal: lost.signal,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await this.redis.eval(RELEASE, 1, key, value).catch(() => undefined);
      },
    };
  }
}
