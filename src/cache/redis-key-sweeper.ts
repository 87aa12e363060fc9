import type { Redis } from 'ioredis';

/** Escapes Redis glob characters so a literal prefix matches only itself. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Deletes keys starting with `literal` by SCAN (never KEYS) and UNLINK, in batches; `protect`
 * is checked per key so nothing of the job queue can go even if a pattern was wrong.
 */
export async function sweepPrefix(redis: Redis, literal: string, protect: (key: string) => boolean): Promise<number> {
  let cursor = '0';
  let removed = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(literal)}*`, 'COUNT', 500);
    cursor = next;
    const victims = keys.filter((k) => k.startsWith(literal) && !protect(k));
    if (victims.length) removed += await redis.unlink(...victims);
  } while (cursor !== '0');
  return removed;
}
