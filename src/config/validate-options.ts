import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { cacheOptionProblems } from '../cache/cache-rules.js';
import { notificationOptionProblems } from '../notifications/notification-options.js';
import { restoreDatabasesProblems } from '../common/database-names.js';
import { timezoneProblem } from '../common/timezone.js';
import { scheduleIntervalProblems } from '../scheduler/cron-gap.js';
import { schedulerOptionProblems } from '../scheduler/retention/policy-rules.js';
import type { BackupManagerOptions, CatalogOptions } from './options.js';
import { COMPRESSIONS, FORMATS } from '../common/vocabulary.js';
import { storageOptionProblems } from '../storage/storage-options.js';
import { encryptionOptionProblems } from '../codecs/encryption-keys.js';

/** One problem of the options: the option's path (`cache.fileRoot`, `targets[0].database`) and what is wrong with it, as a predicate. */
export interface OptionProblem {
  path: string;
  message: string;
}

/** Least length of the JWT signing secret, whatever the mode. */
export const MIN_JWT_SECRET_LENGTH = 32;

const TARGET_NAME = /^[a-z0-9_]{1,64}$/;
const HOUR = 3600_000;

/** Numeric options and their bounds (inclusive), checked when set. */
const RANGES: Array<[path: string, min: number, max: number]> = [
  ['auth.failureLimit', 0, 1_000_000],
  ['auth.failureWindowMs', 1_000, 24 * HOUR],
  ['auth.forbiddenLimit', 0, 1_000_000],
  ['auth.maxTokenLifetimeMs', 60_000, 8760 * HOUR],
  ['auth.sessionIdleMs', 60_000, 24 * HOUR],
  ['auth.sessionMaxMs', 60_000, 720 * HOUR],
  ['auth.loginMaxFailures', 0, 1_000],
  ['auth.loginLockoutMs', 1_000, 24 * HOUR],
  ['dump.zstdLevel', 1, 19],
  ['dump.gzipLevel', 1, 9],
  ['dump.timeoutMs', 1_000, Number.MAX_SAFE_INTEGER],
  ['dump.lockWaitTimeoutMs', 100, Number.MAX_SAFE_INTEGER],
  ['dump.restoreJobs', 0, 64],
  ['queue.attempts', 1, 20],
  ['queue.concurrency', 1, 32],
  ['queue.lockDurationMs', 1_000, Number.MAX_SAFE_INTEGER],
  ['queue.stalledIntervalMs', 1_000, Number.MAX_SAFE_INTEGER],
  ['queue.backoffMs', 0, Number.MAX_SAFE_INTEGER],
  ['shutdownGraceMs', 0, Number.MAX_SAFE_INTEGER],
  ['monitoring.minFreeBytes', 0, Number.MAX_SAFE_INTEGER],
  ['monitoring.maxBackupAgeMs', 0, Number.MAX_SAFE_INTEGER],
  ['monitoring.checkTimeoutMs', 100, 60_000],
  ['schedules.syncIntervalMs', 100, HOUR],
  ['schedules.minIntervalMinutes', 0, 7 * 24 * 60],
  ['queue.maxWaiting', 0, 1_000_000],
  ['storage.partSizeBytes', 5 * 1024 * 1024, 5 * 1024 * 1024 * 1024],
  ['storage.partsInFlight', 1, 64],
  ['storage.abandonedUploadAgeMs', 0, Number.MAX_SAFE_INTEGER],
  ['encryption.scryptWorkFactor', 10, 20],
  ['notifications.dedupWindowMs', 0, 30 * 24 * HOUR],
  ['notifications.checkIntervalMs', 100, 24 * HOUR],
  ['notifications.workerMissingMs', 1_000, 7 * 24 * HOUR],
  ['notifications.attempts', 1, 50],
  ['notifications.backoffMs', 0, 24 * HOUR],
  ['notifications.timeoutMs', 100, 5 * 60_000],
];

/** Options that take one of a few values. */
const CHOICES: Array<[path: string, allowed: readonly string[]]> = [
  ['dump.defaultCompression', COMPRESSIONS],
  ['dump.pgFormat', FORMATS],
];

/** The bounds `validateOptions` puts on a numeric option, if any. */
export function rangeOf(path: string): { min: number; max: number } | undefined {
  const r = RANGES.find(([p]) => p === path);
  return r && { min: r[1], max: r[2] };
}

/** The values `validateOptions` allows for an option that takes one of a few, if any. */
export function choicesOf(path: string): readonly string[] | undefined {
  return CHOICES.find(([p]) => p === path)?.[1];
}

export function valueAt(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
}

/** Directories of an SQLite catalog; clearing the file cache must never reach them. */
function catalogDirs(c: CatalogOptions | undefined): string[] {
  if (!c) return [];
  const dirs = c.sqlitePath ? [dirname(resolve(c.sqlitePath))] : [];
  if (c.url?.startsWith('sqlite:')) dirs.push(dirname(resolve(c.url.replace(/^sqlite:(\/\/)?/, ''))));
  return dirs;
}

/**
 * Checks complete options (defaults applied) the same way whichever way they came in: the
 * environment (`loadConfig`) or a host app (`BackupManagerModule.forRoot`/`forRootAsync`).
 * Domain rules live with their modules (cache, retention and crons, time zones); this composes
 * them and names each problem by its option path. Returns every problem at once; none = valid.
 */
export function validateOptions(o: BackupManagerOptions): OptionProblem[] {
  const out: OptionProblem[] = [];
  const under = (prefix: string, found: OptionProblem[]) => {
    for (const p of found) out.push({ path: `${prefix}.${p.path}`, message: p.message });
  };

  const names = new Set<string>();
  (o.targets ?? []).forEach((t, i) => {
    const at = `targets[${i}]`;
    if (typeof t.name !== 'string' || !TARGET_NAME.test(t.name)) {
      out.push({ path: `${at}.name`, message: `must be 1 to 64 lower-case letters, digits or "_" (got ${JSON.stringify(t.name)})` });
    } else if (names.has(t.name)) out.push({ path: `${at}.name`, message: `repeats the target name "${t.name}"` });
    names.add(t.name);
    if (t.engine !== 'postgres' && t.engine !== 'mysql') out.push({ path: `${at}.engine`, message: 'must be postgres or mysql' });
    if (!t.host || typeof t.host !== 'string') out.push({ path: `${at}.host`, message: 'must name a host' });
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) out.push({ path: `${at}.port`, message: `must be a port number (got ${String(t.port)})` });
    if (!t.database || typeof t.database !== 'string') out.push({ path: `${at}.database`, message: 'must name a database' });
    if (t.passwordFile && !existsSync(t.passwordFile)) out.push({ path: `${at}.passwordFile`, message: `names a file that does not exist: ${t.passwordFile}` });
    if (t.coreTables !== undefined && (!Array.isArray(t.coreTables) || t.coreTables.some((n) => typeof n !== 'string' || !n))) {
      out.push({ path: `${at}.coreTables`, message: 'must be an array of table names' });
    }
    if (t.encrypt !== undefined && typeof t.encrypt !== 'boolean') out.push({ path: `${at}.encrypt`, message: 'must be true or false' });
    if (t.restoreDatabases !== undefined && !Array.isArray(t.restoreDatabases)) out.push({ path: `${at}.restoreDatabases`, message: 'must be an array of database names' });
    else for (const message of restoreDatabasesProblems(t.restoreDatabases ?? [])) out.push({ path: `${at}.restoreDatabases`, message });
  });

  out.push(...storageOptionProblems(o));
  if (resolve(o.storageDir) === resolve(o.tempDir)) out.push({ path: 'tempDir', message: 'must differ from storageDir' });
  const tz = timezoneProblem(o.timezone);
  if (tz) out.push({ path: 'timezone', message: tz });
  if (!/^rediss?:\/\//.test(String(o.redisUrl))) out.push({ path: 'redisUrl', message: 'must start with redis:// or rediss://' });
  if (typeof o.queuePrefix !== 'string' || !/^[A-Za-z0-9:_-]{1,64}$/.test(o.queuePrefix)) {
    out.push({ path: 'queuePrefix', message: 'may hold only letters, digits, ":", "_" and "-" (1 to 64)' });
  }
  if (o.catalog?.tablePrefix !== undefined && !/^([a-z][a-z0-9_]{0,15})?$/.test(o.catalog.tablePrefix)) {
    out.push({ path: 'catalog.tablePrefix', message: `must be empty or 1 to 16 lower-case letters, digits and _ starting with a letter (got ${JSON.stringify(o.catalog.tablePrefix).slice(0, 40)})` });
  }
  if (o.catalog?.url && !/^(postgres|postgresql|mysql|mariadb|sqlite):/.test(o.catalog.url)) {
    out.push({ path: 'catalog.url', message: 'must be a postgres://, mysql:// or sqlite: URL' });
  }
  for (const path of ['workers', 'scheduler', 'controllers', 'relayEvents', 'notifications.enabled']) {
    const v = valueAt(o, path);
    if (v !== undefined && typeof v !== 'boolean') out.push({ path, message: `must be true or false (got ${JSON.stringify(v)?.slice(0, 40)})` });
  }
  const secret = o.auth?.jwtSecret;
  if (secret && secret.length < MIN_JWT_SECRET_LENGTH) out.push({ path: 'auth.jwtSecret', message: `must be at least ${MIN_JWT_SECRET_LENGTH} characters` });

  for (const [path, min, max] of RANGES) {
    const v = valueAt(o, path);
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      out.push({ path, message: `must be an integer between ${min} and ${max} (got ${JSON.stringify(v)})` });
    }
  }
  for (const [path, allowed] of CHOICES) {
    const v = valueAt(o, path);
    if (v !== undefined && !allowed.includes(v as string)) out.push({ path, message: `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})` });
  }

  if (o.encryption) under('encryption', encryptionOptionProblems(o.encryption));
  if (o.schedules) under('schedules', [...schedulerOptionProblems(o.schedules), ...(tz ? [] : scheduleIntervalProblems(o.schedules, o.timezone))]);
  if (o.notifications) under('notifications', notificationOptionProblems(o.notifications));
  if (o.cache) {
    under('cache', cacheOptionProblems(o.cache, { queuePrefix: o.queuePrefix, storageDir: o.storageDir, tempDir: o.tempDir, catalogDirs: catalogDirs(o.catalog) }));
  }
  return out;
}
