/**
 * The few Redis commands `TargetLock` uses, in memory, with Redis's semantics: `SET NX PX`, `GET`,
 * and its two scripts (compare-and-delete, compare-and-expire) run atomically. Time is a clock
 * the test moves. For the unit tier only; the lock's own suite runs against a real Redis.
 */
export class MemoryRedis {
  private readonly keys = new Map<string, { value: string; expiresAt: number }>();
  now = 0;

  private live(key: string) {
    const e = this.keys.get(key);
    if (e && e.expiresAt <= this.now) this.keys.delete(key);
    return this.keys.get(key);
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, px: 'PX', ttl: number, nx: 'NX'): Promise<'OK' | null> {
    if (px !== 'PX' || nx !== 'NX') throw new Error('MemoryRedis supports SET key value PX ttl NX only');
    if (this.live(key)) return null;
    this.keys.set(key, { value, expiresAt: this.now + ttl });
    return 'OK';
  }

  async eval(script: string, _n: number, key: string, value: string, ttl?: string): Promise<number> {
    const e = this.live(key);
    if (!e || e.value !== value) return 0;
    if (/'del'/.test(script)) {
      this.keys.delete(key);
      return 1;
    }
    if (/'pexpire'/.test(script)) {
      e.expiresAt = this.now + Number(ttl);
      return 1;
    }
    throw new Error('MemoryRedis: unknown script');
  }
}
