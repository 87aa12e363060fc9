import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { CacheOptions } from '../config/options.js';
import type { OptionProblem } from '../config/validate-options.js';

/** Why a cache key prefix is refused (a predicate: "must ..."): empty, a pattern, or reaching the queue's keys. */
export function cachePrefixProblem(prefix: string, queuePrefix: string): string | undefined {
  if (typeof prefix !== 'string' || !prefix) return 'must not be empty (an empty prefix would match every key)';
  if (/[*?[\]\\\s]/.test(prefix)) return `must be literal (no *, ?, [, ], \\ or spaces): "${prefix}"`;
  const queueKeys = `${queuePrefix}:`;
  if (queueKeys.startsWith(prefix) || prefix.startsWith(queueKeys)) {
    return `must not overlap the job queue's keys (${queueKeys}*): "${prefix}"; the queue is never cleared`;
  }
  return undefined;
}

/** `inner` is `outer` or lies below it. */
function within(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The path, and the path with the symlinks of its longest existing ancestor resolved. */
function forms(path: string): string[] {
  const abs = resolve(path);
  for (let dir = abs, rest = ''; ; rest = join(basename(dir), rest), dir = dirname(dir)) {
    try {
      return [...new Set([abs, join(realpathSync.native(dir), rest)])];
    } catch {
      if (dirname(dir) === dir) return [abs];
    }
  }
}

/**
 * Why a directory may not be the file-cache root (a predicate), or undefined: clearing it must
 * never reach the service's own files. It may be neither the filesystem root, nor be or contain
 * any of `dirs.overlapping` or `dirs.contained`, nor lie inside any of `dirs.overlapping`.
 */
export function cacheFileRootProblem(root: string, dirs: { overlapping: string[]; contained: string[] }): string | undefined {
  const roots = forms(root);
  if (roots.some((r) => dirname(r) === r)) return 'must not be the filesystem root';
  for (const dir of [...dirs.overlapping, ...dirs.contained]) {
    if (forms(dir).some((d) => roots.some((r) => within(d, r)))) return `must not be or contain ${dir} (clearing the file cache would delete it)`;
  }
  for (const dir of dirs.overlapping) {
    if (forms(dir).some((d) => roots.some((r) => within(r, d)))) return `must not lie inside ${dir} (clearing the file cache would delete its files)`;
  }
  return undefined;
}

/**
 * Problems of the cache options: literal prefixes clear of the queue's keys, a Redis URL, a
 * file root away from storage, temp and catalog directories. Paths are relative to `cache`.
 */
export function cacheOptionProblems(
  cache: Partial<CacheOptions>,
  ctx: { queuePrefix: string; storageDir: string; tempDir: string; catalogDirs: string[] },
): OptionProblem[] {
  const out: OptionProblem[] = [];
  for (const field of ['redisPrefixes', 'sessionPrefixes'] as const) {
    const list = cache[field];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      out.push({ path: field, message: 'must be an array of key prefixes' });
      continue;
    }
    list.forEach((p, i) => {
      const problem = cachePrefixProblem(p, ctx.queuePrefix);
      if (problem) out.push({ path: `${field}[${i}]`, message: problem });
    });
  }
  if (cache.redisUrl !== undefined && !/^rediss?:\/\//.test(String(cache.redisUrl))) out.push({ path: 'redisUrl', message: 'must start with redis:// or rediss://' });
  if (cache.fileRoot !== undefined) {
    const problem =
      typeof cache.fileRoot !== 'string' || !cache.fileRoot
        ? 'must be a directory path'
        : cacheFileRootProblem(cache.fileRoot, { overlapping: [ctx.storageDir, ctx.tempDir], contained: ctx.catalogDirs });
    if (problem) out.push({ path: 'fileRoot', message: problem });
  }
  return out;
}
