import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { validateCronExpression } from 'cron';
import { restoreDatabasesProblems } from '../common/database-names.js';
import { splitTableList } from '../engines/table-names.js';
import { scheduleIntervalProblems } from '../scheduler/cron-gap.js';
import { BUILTIN_RETENTION_POLICIES, DEFAULT_QUEUE_MAX_WAITING, DEFAULT_SCHEDULE_MIN_INTERVAL_MINUTES, type AppRole, type BackupManagerOptions, type CacheOptions, type Compression, type DefaultPlan, type RetentionPolicy, type SchedulerOptions, type TargetOptions } from './options.js';

/** Thrown when the environment does not describe a runnable service; lists every problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export interface AppConfig {
  port: number;
  role: AppRole;
  logLevel: string;
  /** Largest JSON request body accepted (bytes); larger ones get 413. */
  bodyLimitBytes: number;
  options: BackupManagerOptions;
}

type Env = Record<string, string | undefined>;

const TARGET_URL = /^BACKUP_TARGET_([A-Z0-9_]+)_URL$/;
const ROLES: AppRole[] = ['all', 'api', 'worker'];
const COMPRESSIONS: Compression[] = ['zstd', 'gzip', 'none'];

/**
 * Reads and validates the service configuration once. Values come from `env`, over an optional
 * JSON file named by `CONFIG_FILE` whose keys are the same variable names.
 */
export function loadConfig(rawEnv: Env, opts: { roleOverride?: AppRole } = {}): AppConfig {
  const problems: string[] = [];
  const env: Env = { ...readConfigFile(rawEnv.CONFIG_FILE, problems), ...rawEnv };

  const int = (name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return def;
    }
    return n;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], def: T): T => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    if (!allowed.includes(raw as T)) {
      problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return def;
    }
    return raw as T;
  };
  const bool = (name: string, def: boolean): boolean => {
    const raw = env[name]?.toLowerCase();
    if (raw === undefined || raw === '') return def;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false (got "${env[name]}")`);
    return def;
  };

  const role = opts.roleOverride ?? oneOf('APP_ROLE', ROLES, 'all');
  const dataDir = resolve(env.DATA_DIR || './data');
  const storageDir = resolve(env.STORAGE_DIR || join(dataDir, 'backups'));
  const tempDir = resolve(env.TEMP_DIR || join(dataDir, 'tmp'));
  if (storageDir === tempDir) problems.push('STORAGE_DIR and TEMP_DIR must differ');

  const timezone = env.SCHEDULER_TIMEZONE || env.TZ || 'UTC';
  if (!isValidTimezone(timezone)) problems.push(`SCHEDULER_TIMEZONE/TZ is not an IANA time zone: "${timezone}"`);

  const redisUrl = env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (!/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL must start with redis:// or rediss://');

  const catalogUrl = env.CATALOG_URL || undefined;
  if (catalogUrl && !/^(postgres|postgresql|mysql|mariadb|sqlite):/.test(catalogUrl)) {
    problems.push('CATALOG_URL must be a postgres://, mysql:// or sqlite: URL');
  }
  // The catalog's password as a file (a container secret), rather than inside CATALOG_URL.
  const catalogPassword = env.CATALOG_PASSWORD_FILE ? readPasswordFile('CATALOG_PASSWORD_FILE', env.CATALOG_PASSWORD_FILE, problems) : undefined;
  if (env.CATALOG_PASSWORD_FILE && catalogUrl && /^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(catalogUrl)) {
    problems.push('CATALOG_URL holds a password and CATALOG_PASSWORD_FILE is set: keep only one (the file)');
  }

  const queuePrefix = env.QUEUE_PREFIX || 'backup-manager';
  if (!/^[A-Za-z0-9:_-]{1,64}$/.test(queuePrefix)) {
    problems.push('QUEUE_PREFIX may hold only letters, digits, ":", "_" and "-" (at most 64)');
  }

  const devMode = bool('AUTH_DEV_MODE', false);
  let jwtSecret = env.JWT_SECRET ?? '';
  if (!jwtSecret && env.JWT_SECRET_FILE) jwtSecret = readSecretFile('JWT_SECRET_FILE', env.JWT_SECRET_FILE, problems);
  if (!jwtSecret && devMode) jwtSecret = devSecret(dataDir);
  if (!jwtSecret) {
    problems.push('JWT_SECRET (or JWT_SECRET_FILE) is required; for local development set AUTH_DEV_MODE=true');
  } else if (jwtSecret.length < 32 && !devMode) {
    problems.push('JWT_SECRET must be at least 32 characters');
  }

  const targets = parseTargets(env, problems);
  const schedules = parseSchedulerOptions(env, problems, int, bool);
  problems.push(
    ...scheduleIntervalProblems(schedules, timezone, {
      plan: (type) => `SCHEDULER_${type.toUpperCase()}_CRON`,
      drill: 'RESTORE_DRILL_CRON',
      min: 'SCHEDULE_MIN_INTERVAL_MINUTES (0 = no minimum)',
    }),
  );
  const config: AppConfig = {
    port: int('PORT', 3000, 0, 65535),
    role,
    logLevel: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    bodyLimitBytes: int('HTTP_BODY_LIMIT_KB', 100, 1, 1024 * 1024) * 1024,
    options: {
      targets,
      catalog: {
        url: catalogUrl,
        sqlitePath: join(dataDir, 'catalog.sqlite'),
        migrationsRun: bool('CATALOG_MIGRATIONS_RUN', true),
        password: catalogPassword,
      },
      redisUrl,
      queuePrefix,
      storageDir,
      tempDir,
      auth: {
        jwtSecret,
        devMode,
        issuer: env.JWT_ISSUER || undefined,
        audience: env.JWT_AUDIENCE || undefined,
        failureLimit: int('AUTH_FAILURE_LIMIT', 20, 0, 1_000_000),
        failureWindowMs: int('AUTH_FAILURE_WINDOW_MS', 60_000, 1_000, 24 * 3600_000),
      },
      timezone,
      workers: role !== 'api',
      controllers: role !== 'worker',
      scheduler: role !== 'api' && bool('SCHEDULER_ENABLED', true),
      schedules,
      dump: {
        defaultCompression: oneOf('BACKUP_COMPRESSION', COMPRESSIONS, 'zstd'),
        zstdLevel: int('ZSTD_LEVEL', 3, 1, 19),
        gzipLevel: int('GZIP_LEVEL', 6, 1, 9),
        timeoutMs: int('DUMP_TIMEOUT_MS', 6 * 3600_000, 1000),
        lockWaitTimeoutMs: int('DUMP_LOCK_WAIT_TIMEOUT_MS', 30_000, 100),
        pgFormat: oneOf('BACKUP_PG_FORMAT', ['plain', 'custom'] as const, 'custom'),
      },
      queue: {
        attempts: int('JOB_ATTEMPTS', 3, 1, 20),
        concurrency: int('WORKER_CONCURRENCY', 1, 1, 32),
        lockDurationMs: int('JOB_LOCK_DURATION_MS', 30_000, 1000),
        stalledIntervalMs: int('JOB_STALLED_INTERVAL_MS', 30_000, 1000),
        backoffMs: int('JOB_BACKOFF_MS', 5_000, 0),
        allowEviction: bool('REDIS_ALLOW_EVICTION', false),
        maxWaiting: int('QUEUE_MAX_WAITING', DEFAULT_QUEUE_MAX_WAITING, 0, 1_000_000),
      },
      shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 10_000, 0),
      monitoring: {
        minFreeBytes: int('HEALTH_MIN_FREE_MB', 1024, 0) * 1024 * 1024,
        maxBackupAgeMs: int('BACKUP_MAX_AGE_HOURS', 24, 0) * 3600_000,
        targetMaxBackupAgeMs: parseTargetMaxAges(env, targets, problems),
        checkTimeoutMs: int('HEALTH_CHECK_TIMEOUT_MS', 3_000, 100, 60_000),
      },
      cache: parseCacheOptions(env, { dataDir, storageDir, tempDir, queuePrefix }, problems),
    },
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** `BACKUP_TARGET_<NAME>_MAX_AGE_HOURS`: per-target freshness limit (0 = not checked). */
function parseTargetMaxAges(env: Env, targets: TargetOptions[], problems: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of targets) {
    const name = `BACKUP_TARGET_${t.name.toUpperCase()}_MAX_AGE_HOURS`;
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) problems.push(`${name} must be a whole number of hours, 0 or more (got "${raw}")`);
    else out[t.name] = n * 3600_000;
  }
  return out;
}

/** `CACHE_*`: Redis prefixes (comma-separated), session prefixes, the cache Redis, the file root. */
function parseCacheOptions(
  env: Env,
  dirs: { dataDir: string; storageDir: string; tempDir: string; queuePrefix: string },
  problems: string[],
): CacheOptions {
  const list = (name: string) => (env[name] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const redisPrefixes = list('CACHE_REDIS_PREFIXES');
  const sessionPrefixes = list('CACHE_SESSION_PREFIXES');
  for (const p of [...redisPrefixes, ...sessionPrefixes]) {
    const problem = cachePrefixProblem(p, dirs.queuePrefix);
    if (problem) problems.push(`CACHE_REDIS_PREFIXES/CACHE_SESSION_PREFIXES: ${problem}`);
  }
  const redisUrl = env.CACHE_REDIS_URL || undefined;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) problems.push('CACHE_REDIS_URL must start with redis:// or rediss://');
  const fileRoot = resolve(env.CACHE_FILE_ROOT || join(dirs.dataDir, 'cache'));
  const problem = cacheFileRootProblem(fileRoot, [dirs.storageDir, dirs.tempDir, dirs.dataDir]);
  if (problem) problems.push(`CACHE_FILE_ROOT ${problem}`);
  return { redisPrefixes, sessionPrefixes, redisUrl, fileRoot };
}

/** Why a cache key prefix is refused: empty, a pattern, or reaching the queue's keys. */
export function cachePrefixProblem(prefix: string, queuePrefix: string): string | undefined {
  if (!prefix) return 'an empty prefix would match every key';
  if (/[*?[\]\\\s]/.test(prefix)) return `prefix "${prefix}" must be literal (no *, ?, [, ], \\ or spaces)`;
  const queueKeys = `${queuePrefix}:`;
  if (queueKeys.startsWith(prefix) || prefix.startsWith(queueKeys)) {
    return `prefix "${prefix}" overlaps the job queue's keys (${queueKeys}*); the queue is never cleared`;
  }
  return undefined;
}

/** Why a directory may not be the file-cache root: it is, or contains, one the service needs. */
export function cacheFileRootProblem(root: string, protectedDirs: string[]): string | undefined {
  if (root === '/' || root === resolve('/')) return 'must not be the filesystem root';
  for (const dir of protectedDirs) {
    const rel = relative(root, dir);
    if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) return `must not be or contain ${dir}`;
  }
  return undefined;
}

function parseTargets(env: Env, problems: string[]): TargetOptions[] {
  const targets: TargetOptions[] = [];
  for (const key of Object.keys(env).sort()) {
    const m = TARGET_URL.exec(key);
    if (!m) continue;
    const name = m[1].toLowerCase();
    const raw = env[key] ?? '';
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      problems.push(`${key} is not a URL (expected postgres://user:pass@host:port/db or mysql://...)`);
      continue;
    }
    const engine = url.protocol === 'postgres:' || url.protocol === 'postgresql:' ? 'postgres'
      : url.protocol === 'mysql:' || url.protocol === 'mariadb:' ? 'mysql' : undefined;
    if (!engine) {
      problems.push(`${key} must use postgres:// or mysql:// (got ${url.protocol}//)`);
      continue;
    }
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (!database) problems.push(`${key} names no database (add /dbname to the URL)`);
    const user = decodeURIComponent(url.username) || (engine === 'postgres' ? 'postgres' : 'root');
    const passwordFile = env[`BACKUP_TARGET_${m[1]}_PASSWORD_FILE`] || undefined;
    if (passwordFile && !existsSync(passwordFile)) {
      problems.push(`BACKUP_TARGET_${m[1]}_PASSWORD_FILE names a file that does not exist: ${passwordFile}`);
    }
    const core = env[`BACKUP_TARGET_${m[1]}_CORE_TABLES`];
    const restoreDatabases = (env[`BACKUP_TARGET_${m[1]}_RESTORE_DATABASES`] ?? '').split(',').map((d) => d.trim()).filter(Boolean);
    for (const p of restoreDatabasesProblems(restoreDatabases)) problems.push(`BACKUP_TARGET_${m[1]}_RESTORE_DATABASES: ${p}`);
    targets.push({
      name,
      engine,
      host: url.hostname || '127.0.0.1',
      port: url.port ? Number(url.port) : engine === 'postgres' ? 5432 : 3306,
      user,
      database,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      passwordFile,
      coreTables: core ? splitTableList(core) : undefined,
      restoreDatabases: restoreDatabases.length ? restoreDatabases : undefined,
    });
  }
  return targets;
}

const POLICY_KINDS = ['tiered', 'per-type', 'age'];
const NON_NEGATIVE_INT = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) >= 0);

function parseSchedulerOptions(
  env: Env,
  problems: string[],
  int: (name: string, def: number, min?: number, max?: number) => number,
  bool: (name: string, def: boolean) => boolean,
): SchedulerOptions {
  const cron = (name: string, def: string): string => {
    const raw = env[name];
    if (raw === undefined) return def;
    if (raw === '') return '';
    const v = validateCronExpression(raw.trim());
    if (!v.valid) problems.push(`${name} is not a valid cron expression ("${raw}": ${v.error?.message ?? 'invalid'})`);
    return raw.trim();
  };
  const plans: DefaultPlan[] = bool('SCHEDULER_DEFAULT_PLANS', true)
    ? [
        { type: 'daily' as const, cron: cron('SCHEDULER_DAILY_CRON', '0 2 * * *') },
        { type: 'weekly' as const, cron: cron('SCHEDULER_WEEKLY_CRON', '0 3 * * 0') },
        { type: 'monthly' as const, cron: cron('SCHEDULER_MONTHLY_CRON', '0 4 1 * *') },
      ].filter((p) => p.cron)
    : [];

  const byName = new Map(BUILTIN_RETENTION_POLICIES.map((p) => [p.name, p]));
  if (env.RETENTION_POLICIES) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.RETENTION_POLICIES);
    } catch (err) {
      problems.push(`RETENTION_POLICIES must be a JSON array of policies (${(err as Error).message})`);
    }
    if (parsed !== undefined && !Array.isArray(parsed)) problems.push('RETENTION_POLICIES must be a JSON array of policies');
    for (const p of Array.isArray(parsed) ? (parsed as RetentionPolicy[]) : []) {
      const problem = retentionPolicyProblem(p);
      if (problem) problems.push(`RETENTION_POLICIES: ${problem}`);
      else byName.set(p.name, p);
    }
  }
  const cap = env.RETENTION_MAX_TOTAL_BYTES ? int('RETENTION_MAX_TOTAL_BYTES', 0, 1) : undefined;
  const policies = [...byName.values()].map((p) => (cap && p.maxTotalBytes === undefined ? { ...p, maxTotalBytes: cap } : p));
  const defaultPolicy = env.RETENTION_DEFAULT_POLICY || 'standard';
  if (!byName.has(defaultPolicy)) {
    problems.push(`RETENTION_DEFAULT_POLICY names no policy: "${defaultPolicy}" (known: ${[...byName.keys()].join(', ')})`);
  }
  return {
    syncIntervalMs: int('SCHEDULER_SYNC_INTERVAL_MS', 5_000, 100, 3_600_000),
    defaultPlans: plans,
    retention: { policies, defaultPolicy, cleanupCron: cron('RETENTION_CLEANUP_CRON', '0 5 * * *') },
    drillCron: cron('RESTORE_DRILL_CRON', '0 6 * * 0'),
    minIntervalMinutes: int('SCHEDULE_MIN_INTERVAL_MINUTES', DEFAULT_SCHEDULE_MIN_INTERVAL_MINUTES, 0, 1440),
  };
}

/** Why a retention policy is unusable, or undefined when it is fine. */
export function retentionPolicyProblem(p: RetentionPolicy): string | undefined {
  if (!p || typeof p !== 'object') return 'each policy must be an object';
  if (typeof p.name !== 'string' || !/^[a-z0-9_-]{1,64}$/.test(p.name)) return `policy name must match [a-z0-9_-]{1,64} (got ${JSON.stringify(p.name)})`;
  if (!POLICY_KINDS.includes(p.kind)) return `policy ${p.name}: kind must be one of ${POLICY_KINDS.join(', ')}`;
  const numbers: Array<[string, unknown]> = [
    ['maxAgeDays', p.maxAgeDays],
    ['maxTotalBytes', p.maxTotalBytes],
    ...Object.entries(p.tiers ?? {}).map(([k, v]) => [`tiers.${k}`, v] as [string, unknown]),
    ...Object.entries(p.rules ?? {}).flatMap(([t, r]) => [
      [`rules.${t}.maxAgeDays`, r?.maxAgeDays],
      [`rules.${t}.maxCount`, r?.maxCount],
    ] as Array<[string, unknown]>),
  ];
  for (const [k, v] of numbers) if (!NON_NEGATIVE_INT(v)) return `policy ${p.name}: ${k} must be a non-negative integer`;
  for (const t of Object.keys(p.rules ?? {})) {
    if (!['manual', 'daily', 'weekly', 'monthly'].includes(t)) return `policy ${p.name}: rules may name manual, daily, weekly, monthly (got ${t})`;
  }
  if (p.kind === 'tiered' && !p.tiers) return `policy ${p.name}: a tiered policy needs tiers`;
  if (p.kind === 'age' && p.maxAgeDays === undefined) return `policy ${p.name}: an age policy needs maxAgeDays`;
  return undefined;
}

function readConfigFile(path: string | undefined, problems: string[]): Env {
  if (!path) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v == null ? undefined : String(v)]));
  } catch (err) {
    problems.push(`CONFIG_FILE ${path} could not be read as JSON: ${(err as Error).message}`);
    return {};
  }
}

function readSecretFile(name: string, path: string, problems: string[]): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    problems.push(`${name} could not be read: ${path}`);
    return '';
  }
}

/** A password file's content without its final line break (other white space is part of the password). */
function readPasswordFile(name: string, path: string, problems: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch {
    problems.push(`${name} could not be read: ${path}`);
    return undefined;
  }
}

/** A per-data-dir random secret so `npm run token` and the server agree in development. */
function devSecret(dataDir: string): string {
  const file = join(dataDir, '.dev-jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('hex');
  try {
    writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim(); // another process won
    throw err;
  }
}

export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
