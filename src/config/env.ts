import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { restoreDatabasesProblems } from '../common/database-names.js';
import { splitTableList } from '../engines/table-names.js';
import { retentionPolicyProblem } from '../scheduler/retention/policy-rules.js';
import { BUILTIN_RETENTION_POLICIES, DEFAULT_QUEUE_MAX_WAITING, DEFAULT_SCHEDULE_MIN_INTERVAL_MINUTES, type AppRole, type BackupManagerOptions, type CacheOptions, type Compression, type DefaultPlan, type RetentionPolicy, type SchedulerOptions, type TargetOptions } from './options.js';
import { validateOptions, type OptionProblem } from './validate-options.js';

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
  /** What start-up says about AUTH_DEV_MODE when it is on: which secret signs tokens. */
  devModeNotice?: string;
  /**
   * Express `trust proxy`: false (default: the client is the peer address), a hop count, or the
   * addresses and subnets of the proxies in front. Decides `req.ip`, which limits and audit use.
   */
  trustProxy: false | number | string[];
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
  const timezone = env.SCHEDULER_TIMEZONE || env.TZ || 'UTC';
  const redisUrl = env.REDIS_URL || 'redis://127.0.0.1:6379';
  const catalogUrl = env.CATALOG_URL || undefined;
  // The catalog's password as a file (a container secret), rather than inside CATALOG_URL.
  const catalogPassword = env.CATALOG_PASSWORD_FILE ? readPasswordFile('CATALOG_PASSWORD_FILE', env.CATALOG_PASSWORD_FILE, problems) : undefined;
  if (env.CATALOG_PASSWORD_FILE && catalogUrl && /^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(catalogUrl)) {
    problems.push('CATALOG_URL holds a password and CATALOG_PASSWORD_FILE is set: keep only one (the file)');
  }

  const queuePrefix = env.QUEUE_PREFIX || 'backup-manager';

  const devMode = bool('AUTH_DEV_MODE', false);
  let jwtSecret = env.JWT_SECRET ?? '';
  if (!jwtSecret && env.JWT_SECRET_FILE) jwtSecret = readSecretFile('JWT_SECRET_FILE', env.JWT_SECRET_FILE, problems);
  const generated = !jwtSecret && devMode;
  if (generated) jwtSecret = devSecret(dataDir);
  const devModeNotice = !devMode
    ? undefined
    : generated
      ? `!!! AUTH_DEV_MODE is on: tokens are signed with a development secret generated into ${join(dataDir, DEV_SECRET_FILE)}. Never run this in production; set JWT_SECRET instead. !!!`
      : `AUTH_DEV_MODE is on, but ${env.JWT_SECRET ? 'JWT_SECRET' : 'JWT_SECRET_FILE'} is set: tokens are signed with ${env.JWT_SECRET ? 'JWT_SECRET' : 'that file\'s secret'}; AUTH_DEV_MODE changes nothing.`;
  if (!jwtSecret) problems.push('JWT_SECRET (or JWT_SECRET_FILE) is required; for local development set AUTH_DEV_MODE=true');

  const targets = parseTargets(env, problems);
  const schedules = parseSchedulerOptions(env, problems, int, bool);
  const config: AppConfig = {
    port: int('PORT', 3000, 0, 65535),
    role,
    logLevel: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    bodyLimitBytes: int('HTTP_BODY_LIMIT_KB', 100, 1, 1024 * 1024) * 1024,
    devModeNotice,
    trustProxy: parseTrustProxy(env.TRUST_PROXY, problems),
    options: {
      targets,
      catalog: {
        url: catalogUrl,
        sqlitePath: join(dataDir, 'catalog.sqlite'),
        migrationsRun: bool('CATALOG_MIGRATIONS_RUN', true),
        tablePrefix: env.CATALOG_TABLE_PREFIX,
        password: catalogPassword,
      },
      redisUrl,
      queuePrefix,
      storageDir,
      tempDir,
      auth: {
        jwtSecret,
        devMode: generated,
        issuer: env.JWT_ISSUER || undefined,
        audience: env.JWT_AUDIENCE || undefined,
        failureLimit: int('AUTH_FAILURE_LIMIT', 20, 0, 1_000_000),
        failureWindowMs: int('AUTH_FAILURE_WINDOW_MS', 60_000, 1_000, 24 * 3600_000),
        forbiddenLimit: int('AUTH_FORBIDDEN_LIMIT', 20, 0, 1_000_000),
        maxTokenLifetimeMs: int('JWT_MAX_LIFETIME_HOURS', 24, 1, 8760) * 3600_000,
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
      cache: parseCacheOptions(env, dataDir),
    },
  };
  problems.push(...variableProblems(validateOptions(config.options), config.options, problems));
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
function parseCacheOptions(env: Env, dataDir: string): CacheOptions {
  const list = (name: string) => (env[name] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  return {
    redisPrefixes: list('CACHE_REDIS_PREFIXES'),
    sessionPrefixes: list('CACHE_SESSION_PREFIXES'),
    redisUrl: env.CACHE_REDIS_URL || undefined,
    fileRoot: resolve(env.CACHE_FILE_ROOT || join(dataDir, 'cache')),
  };
}

const PROXY_PRESETS = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `TRUST_PROXY`: empty/false/0 (off), a hop count, or a comma-separated list of proxy addresses,
 * CIDR subnets and Express presets (loopback, linklocal, uniquelocal). `true` is refused: trusting
 * every hop lets any client choose its own IP, and so dodge (or aim) the per-IP limits.
 */
function parseTrustProxy(raw: string | undefined, problems: string[]): false | number | string[] {
  const v = raw?.trim() ?? '';
  if (v === '' || /^(false|off|no|0)$/i.test(v)) return false;
  if (/^\d+$/.test(v)) return Number(v);
  if (/^(true|on|yes)$/i.test(v)) {
    problems.push('TRUST_PROXY=true would trust any X-Forwarded-For a client sends; give the number of proxies in front (e.g. 1) or their addresses/subnets');
    return false;
  }
  const entries = v.split(',').map((e) => e.trim()).filter(Boolean);
  const bad = entries.filter((e) => {
    if (PROXY_PRESETS.includes(e)) return false;
    const [addr, bits, extra] = e.split('/');
    const family = isIP(addr);
    if (!family || extra !== undefined) return true;
    return bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  });
  if (bad.length) problems.push(`TRUST_PROXY must be a hop count or a list of addresses, CIDR subnets and ${PROXY_PRESETS.join('/')} (not: ${bad.join(', ')})`);
  return entries;
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

function parseSchedulerOptions(
  env: Env,
  problems: string[],
  int: (name: string, def: number, min?: number, max?: number) => number,
  bool: (name: string, def: boolean) => boolean,
): SchedulerOptions {
  // Checked with the other options (validateOptions).
  const cron = (name: string, def: string): string => env[name]?.trim() ?? def;
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
  return {
    syncIntervalMs: int('SCHEDULER_SYNC_INTERVAL_MS', 5_000, 100, 3_600_000),
    defaultPlans: plans,
    retention: { policies, defaultPolicy, cleanupCron: cron('RETENTION_CLEANUP_CRON', '0 5 * * *') },
    drillCron: cron('RESTORE_DRILL_CRON', '0 6 * * 0'),
    minIntervalMinutes: int('SCHEDULE_MIN_INTERVAL_MINUTES', DEFAULT_SCHEDULE_MIN_INTERVAL_MINUTES, 0, 1440),
  };
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

const DEV_SECRET_FILE = '.dev-jwt-secret';

/** A per-data-dir random secret so `npm run token` and the server agree in development. */
function devSecret(dataDir: string): string {
  const file = join(dataDir, DEV_SECRET_FILE);
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

/** The variable that sets each option (by option path; the longest prefix wins), to name it in errors. */
const VARIABLE_OF: Record<string, string> = {
  storageDir: 'STORAGE_DIR',
  tempDir: 'TEMP_DIR',
  timezone: 'SCHEDULER_TIMEZONE/TZ',
  redisUrl: 'REDIS_URL',
  queuePrefix: 'QUEUE_PREFIX',
  'catalog.url': 'CATALOG_URL',
  'catalog.tablePrefix': 'CATALOG_TABLE_PREFIX',
  'auth.jwtSecret': 'JWT_SECRET',
  'auth.failureLimit': 'AUTH_FAILURE_LIMIT',
  'auth.failureWindowMs': 'AUTH_FAILURE_WINDOW_MS',
  'auth.forbiddenLimit': 'AUTH_FORBIDDEN_LIMIT',
  'auth.maxTokenLifetimeMs': 'JWT_MAX_LIFETIME_HOURS',
  'dump.defaultCompression': 'BACKUP_COMPRESSION',
  'dump.zstdLevel': 'ZSTD_LEVEL',
  'dump.gzipLevel': 'GZIP_LEVEL',
  'dump.timeoutMs': 'DUMP_TIMEOUT_MS',
  'dump.lockWaitTimeoutMs': 'DUMP_LOCK_WAIT_TIMEOUT_MS',
  'dump.pgFormat': 'BACKUP_PG_FORMAT',
  'queue.attempts': 'JOB_ATTEMPTS',
  'queue.concurrency': 'WORKER_CONCURRENCY',
  'queue.lockDurationMs': 'JOB_LOCK_DURATION_MS',
  'queue.stalledIntervalMs': 'JOB_STALLED_INTERVAL_MS',
  'queue.backoffMs': 'JOB_BACKOFF_MS',
  shutdownGraceMs: 'SHUTDOWN_GRACE_MS',
  'monitoring.minFreeBytes': 'HEALTH_MIN_FREE_MB',
  'monitoring.maxBackupAgeMs': 'BACKUP_MAX_AGE_HOURS',
  'monitoring.checkTimeoutMs': 'HEALTH_CHECK_TIMEOUT_MS',
  'schedules.syncIntervalMs': 'SCHEDULER_SYNC_INTERVAL_MS',
  'schedules.minIntervalMinutes': 'SCHEDULE_MIN_INTERVAL_MINUTES',
  'queue.maxWaiting': 'QUEUE_MAX_WAITING',
  'schedules.retention.policies': 'RETENTION_POLICIES',
  'schedules.retention.defaultPolicy': 'RETENTION_DEFAULT_POLICY',
  'schedules.retention.cleanupCron': 'RETENTION_CLEANUP_CRON',
  'schedules.drillCron': 'RESTORE_DRILL_CRON',
  'cache.redisPrefixes': 'CACHE_REDIS_PREFIXES',
  'cache.sessionPrefixes': 'CACHE_SESSION_PREFIXES',
  'cache.redisUrl': 'CACHE_REDIS_URL',
  'cache.fileRoot': 'CACHE_FILE_ROOT',
};
const TARGET_VARIABLE: Record<string, string> = { passwordFile: 'PASSWORD_FILE', coreTables: 'CORE_TABLES', restoreDatabases: 'RESTORE_DATABASES' };

/**
 * Option problems in the environment's terms: `CACHE_FILE_ROOT must not ...`. A variable whose
 * value could not even be parsed (already in `parsed`) is not reported twice.
 */
function variableProblems(found: OptionProblem[], o: BackupManagerOptions, parsed: string[]): string[] {
  const out: string[] = [];
  for (const { path, message } of found) {
    let variable: string;
    let rest = '';
    const target = /^targets\[(\d+)\](?:\.(\w+))?/.exec(path);
    const plan = /^schedules\.defaultPlans\[(\d+)\]/.exec(path);
    if (target) {
      const suffix = TARGET_VARIABLE[target[2] ?? ''];
      variable = `BACKUP_TARGET_${(o.targets[Number(target[1])]?.name ?? '?').toUpperCase()}_${suffix ?? 'URL'}`;
      if (!suffix && target[2]) rest = ` (${target[2]})`;
    } else if (plan) {
      variable = `SCHEDULER_${String(o.schedules?.defaultPlans[Number(plan[1])]?.type).toUpperCase()}_CRON`;
    } else {
      const prefix = Object.keys(VARIABLE_OF)
        .filter((k) => path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`))
        .sort((a, b) => b.length - a.length)[0];
      variable = prefix ? VARIABLE_OF[prefix] : path;
      rest = prefix ? path.slice(prefix.length) : '';
    }
    if (parsed.some((p) => p.startsWith(`${variable} `) || p.startsWith(`${variable}:`))) continue;
    out.push(`${variable}${rest} ${message}`);
  }
  return out;
}
