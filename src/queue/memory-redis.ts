import type { Redis } from 'ioredis';

/**
 * The Redis commands the gate and the database lock use (GET, SET NX PX, their compare-and-delete
 * and compare-and-pexpire scripts), in memory, for a run without Redis (the CLI's `--inline`).
 * NOTE: such a run does not share the database lock with a running service, and what needs more
 * of Redis (scratch-database leases, scheduler claims) is not available in it.
 */
export class MemoryRedis {
  private readonly keys = new Map<string, { value: string; expiresAt: number }>();

  async get(key: string): Promise<string | null> {
    const e = this.keys.get(key);
    if (!e || e.expiresAt <= Date.now()) return null;
    return e.value;
  }

  async set(key: string, value: string, ...args: Array<string | number>): Promise<'OK' | null> {
    const px = args.findIndex((a) => String(a).toUpperCase() === 'PX');
    const ttl = px >= 0 ? Number(args[px + 1]) : Number.MAX_SAFE_INTEGER;
    if (args.some((a) => String(a).toUpperCase() === 'NX') && (await this.get(key)) !== null) return null;
    this.keys.set(key, { value, expiresAt: Date.now() + ttl });
    return 'OK';
  }

  async eval(script: string, _n: number, key: string, value: string, ttl?: string): Promise<number> {
    if ((await this.get(key)) !== value) return 0;
    if (script.includes('pexpire')) this.keys.get(key)!.expiresAt = Date.now() + Number(ttl);
    else this.keys.delete(key);
    return 1;
  }

  disconnect(): void {}

  /**
   * This stand-in where an ioredis client is expected.
   * NOTE: typed as ioredis's Redis for the REDIS token; only the commands above exist.
   */
  asRedis(): Redis {
    return this as unknown as Redis;
  }
}
