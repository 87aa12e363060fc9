import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { restoreDatabasesProblems } from '../common/database-names.js';
import { splitTableList } from '../engines/table-names.js';
import { BUILTIN_RETENTION_POLICIES, DEFAULTS } from './defaults.js';
import { ENV_VARIABLES } from './env-variables.js';
import { envValue, environmentProblems } from './env-values.js';
import type { ChannelConfig } from '../notifications/channel-kinds.js';
import type { AppRole, BackupManagerOptions, CacheOptions, EncryptionOptions, DefaultPlan, MonitoringOptions, NotificationOptions, RetentionPolicy, SchedulerOptions, StorageDestinationOptions, StorageTuningOptions, TargetOptions } from './options.js';
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
  /** Where the web dashboard is served (`/`, `/ui`), or false when it is off (DASHBOARD_ENABLED). */
  dashboardPath: string | false;
}

type Env = Record<string, string | undefined>;

const TARGET_URL = /^BACKUP_TARGET_([A-Z0-9_]+)_URL$/;
const STORAGE_URL = /^BACKUP_STORAGE_([A-Z0-9_]+)_URL$/;

/** Sets `value` at a dotted option path, creating the objects on the way. */
function setAt(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = o;
  for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
  at[keys.at(-1)!] = value;
}

/**
 * Reads and validates the service configuration once. Values come from `env`, over an optional
 * JSON file named by `CONFIG_FILE` whose keys are the same variable names. The variables are the
 * table `ENV_VARIABLES`; the options they make are checked by `validateOptions`, like `forRoot`'s.
 */
export function loadConfig(rawEnv: Env, opts: { roleOverride?: AppRole } = {}): AppConfig {
  const problems: string[] = [];
  const env: Env = { ...readConfigFile(rawEnv.CONFIG_FILE, problems), ...rawEnv };
  const syntax = environmentProblems(env);
  problems.push(...syntax);
  const wrong = new Set(syntax.map((p) => p.split(' ')[0]));

  // The plain variables, each at its option path (a wrong one leaves the default there).
  const read: Record<string, unknown> = {};
  for (const v of ENV_VARIABLES) {
    if (v.kind === 'custom' || !v.path) continue;
    setAt(read, v.path, envValue(v, wrong.has(v.name) ? undefined : env[v.name]));
  }
  const service = read.service as typeof DEFAULTS.service;

  const role = opts.roleOverride ?? service.role;
  const dataDir = resolve(env.DATA_DIR || DEFAULTS.dataDir);
  const under = (name: string, dflt: string) => resolve(env[name] || join(dataDir, dflt));
  // The catalog's password as a file (a container secret), rather than inside CATALOG_URL.
  const catalogUrl = env.CATALOG_URL || undefined;
  const catalogPassword = env.CATALOG_PASSWORD_FILE ? readPasswordFile('CATALOG_PASSWORD_FILE', env.CATALOG_PASSWORD_FILE, problems) : undefined;
  if (env.CATALOG_PASSWORD_FILE && catalogUrl && /^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(catalogUrl)) {
    problems.push('CATALOG_URL holds a password and CATALOG_PASSWORD_FILE is set: keep only one (the file)');
  }

  const devMode = service.devMode;
  let jwtSecret = env.JWT_SECRET ?? '';
  if (!jwtSecret && env.JWT_SECRET_FILE) jwtSecret = readSecretFile('JWT_SECRET_FILE', env.JWT_SECRET_FILE, problems);
  const generated = !jwtSecret && devMode;
  if (generated) jwtSecret = devSecret(dataDir);
  const devModeNotice = !devMode
    ? undefined
    : generated
      ? `!!! AUTH_DEV_MODE is on: tokens are signed with a development secret generated into ${join(dataDir, DEV_SECRET_FILE)}. Never run this in production; set JWT_SECRET instead. !!!`
      : `AUTH_DEV_MODE is on, but ${env.JWT_SECRET ? 'JWT_SECRET' : 'JWT_SECRET_FILE'} is set: tokens are signed with ${env.JWT_SECRET ? 'JWT_SECRET' : 'that file\'s secret'}; AUTH_DEV_MODE changes nothing.`;
  // A worker serves no HTTP and checks no token: it needs no secret.
  if (!jwtSecret && role !== 'worker') problems.push('JWT_SECRET (or JWT_SECRET_FILE) is required; for local development set AUTH_DEV_MODE=true');

  const targets = parseTargets(env, problems);
  const r = read as unknown as Pick<BackupManagerOptions, 'catalog' | 'redisUrl' | 'queuePrefix' | 'auth' | 'dump' | 'queue' | 'shutdownGraceMs' | 'relayEvents'> & {
    encryption: Omit<EncryptionOptions, 'recipients' | 'recipientsFile'>;
    storage: StorageTuningOptions;
    notifications: Omit<NotificationOptions, 'channels'>;
    schedules: Omit<SchedulerOptions, 'defaultPlans' | 'retention'> & { retention: Pick<SchedulerOptions['retention'], 'defaultPolicy' | 'cleanupCron'> };
    monitoring: Omit<MonitoringOptions, 'targetMaxBackupAgeMs'>;
    cache: Pick<CacheOptions, 'redisPrefixes' | 'sessionPrefixes' | 'redisUrl'>;
  };
  const config: AppConfig = {
    port: service.port,
    role,
    logLevel: service.logLevel,
    bodyLimitBytes: service.bodyLimitKb * 1024,
    devModeNotice,
    trustProxy: parseTrustProxy(env.TRUST_PROXY, problems),
    dashboardPath: service.dashboard && role !== 'worker' ? dashboardPath(service.dashboardPath, problems) : false,
    options: {
      targets,
      catalog: {
        ...r.catalog,
        url: catalogUrl,
        sqlitePath: join(dataDir, DEFAULTS.paths.catalog),
        password: catalogPassword,
        // Set but empty is meaningful: no prefix (the names of older versions).
        tablePrefix: env.CATALOG_TABLE_PREFIX ?? DEFAULTS.catalog.tablePrefix,
      },
      redisUrl: r.redisUrl,
      queuePrefix: r.queuePrefix,
      storageDir: under('STORAGE_DIR', DEFAULTS.paths.storage),
      storages: parseStorages(env),
      storage: { ...r.storage, defaults: r.storage.defaults?.length ? r.storage.defaults : [...DEFAULTS.storage.defaults] },
      tempDir: under('TEMP_DIR', DEFAULTS.paths.temp),
      auth: { ...r.auth, jwtSecret, devMode: generated },
      timezone: env.SCHEDULER_TIMEZONE || env.TZ || DEFAULTS.timezone,
      workers: role !== 'api',
      controllers: role !== 'worker',
      scheduler: role !== 'api' && service.schedulerEnabled,
      schedules: {
        ...r.schedules,
        defaultPlans: service.defaultPlans ? defaultPlans(env) : [],
        retention: { ...r.schedules.retention, policies: retentionPolicies(env, problems) },
      },
      dump: r.dump,
      queue: r.queue,
      shutdownGraceMs: r.shutdownGraceMs,
      encryption: { ...r.encryption, ...recipientsOf(env.BACKUP_ENCRYPTION_RECIPIENTS) },
      relayEvents: r.relayEvents,
      monitoring: { ...r.monitoring, targetMaxBackupAgeMs: parseTargetMaxAges(env, targets, problems) },
      cache: { ...r.cache, fileRoot: under('CACHE_FILE_ROOT', DEFAULTS.paths.cacheFiles) },
      notifications: { ...r.notifications, channels: parseJsonList<ChannelConfig>('NOTIFY_CHANNELS', env.NOTIFY_CHANNELS, problems) },
    },
  };
  problems.push(...variableProblems(validateOptions(config.options), config.options, problems));
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/**
 * `BACKUP_ENCRYPTION_RECIPIENTS`: recipients given inline (`age1…`, comma- or space-separated),
 * or else the path of a file of them.
 */
function recipientsOf(raw: string | undefined): Pick<EncryptionOptions, 'recipients' | 'recipientsFile'> {
  const v = raw?.trim();
  if (!v) return {};
  if (/^age1/i.test(v)) return { recipients: v.split(/[\s,]+/).filter(Boolean) };
  return { recipientsFile: v };
}

/** The crons of the default daily, weekly and monthly plans (an empty cron drops its plan). */
function defaultPlans(env: Env): DefaultPlan[] {
  return DEFAULTS.schedules.defaultPlans
    .map((p) => ({ type: p.type, cron: env[`SCHEDULER_${p.type.toUpperCase()}_CRON`]?.trim() ?? p.cron }))
    .filter((p) => p.cron);
}

/**
 * The built-in policies, overridden or added to by name by `RETENTION_POLICIES` (a JSON array),
 * capped by `RETENTION_MAX_TOTAL_BYTES` where a policy sets no cap. Each policy is checked with
 * the other options (scheduler/retention's rules).
 */
function retentionPolicies(env: Env, problems: string[]): RetentionPolicy[] {
  const byName = new Map(BUILTIN_RETENTION_POLICIES.map((p) => [p.name, p]));
  if (env.RETENTION_POLICIES) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.RETENTION_POLICIES);
    } catch (err) {
      problems.push(`RETENTION_POLICIES must be a JSON array of policies (${(err as Error).message})`);
    }
    if (parsed !== undefined && !Array.isArray(parsed)) problems.push('RETENTION_POLICIES must be a JSON array of policies');
    for (const p of Array.isArray(parsed) ? (parsed as RetentionPolicy[]) : []) byName.set(p && typeof p === 'object' && typeof p.name === 'string' ? p.name : `#${byName.size}`, p);
  }
  let cap: number | undefined;
  const rawCap = env.RETENTION_MAX_TOTAL_BYTES;
  if (rawCap) {
    if (/^\s*\d+\s*$/.test(rawCap) && Number(rawCap) >= 1 && Number(rawCap) <= Number.MAX_SAFE_INTEGER) cap = Number(rawCap);
    else problems.push(`RETENTION_MAX_TOTAL_BYTES must be an integer between 1 and ${Number.MAX_SAFE_INTEGER} (got "${rawCap}")`);
  }
  return [...byName.values()].map((p) => (cap && p && typeof p === 'object' && p.maxTotalBytes === undefined ? { ...p, maxTotalBytes: cap } : p));
}

/** A variable holding a JSON array (each element is checked with the options). */
function parseJsonList<T>(name: string, raw: string | undefined, problems: string[]): T[] {
  if (!raw?.trim()) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (Array.isArray(parsed)) return parsed as T[];
    problems.push(`${name} must be a JSON array`);
  } catch (err) {
    problems.push(`${name} must be a JSON array (${(err as Error).message})`);
  }
  return [];
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

/** Paths the dashboard may not take: the API's and the probes'. */
const RESERVED_PATHS = ['api', 'docs', 'docs-json', 'health', 'metrics'];

/** `DASHBOARD_PATH` normalised to `/` or `/a/b` (no trailing slash), or a problem. */
function dashboardPath(raw: string, problems: string[]): string {
  const path = `/${raw.trim().replace(/^\/+|\/+$/g, '')}`;
  if (!/^\/([A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*)?$/.test(path) || path.split('/').some((p) => p === '.' || p === '..')) {
    problems.push(`DASHBOARD_PATH must be / or a path of letters, digits and . _ ~ - segments, e.g. /ui (got "${raw}")`);
    return '/';
  }
  const first = path.split('/')[1];
  if (RESERVED_PATHS.includes(first)) problems.push(`DASHBOARD_PATH may not be under /${first}: that is the service's own (got "${raw}")`);
  return path;
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

/** `BACKUP_STORAGE_<NAME>_URL` and its key variables: the named destinations (checked by `validateOptions`). */
function parseStorages(env: Env): StorageDestinationOptions[] {
  const out: StorageDestinationOptions[] = [];
  for (const key of Object.keys(env).sort()) {
    const m = STORAGE_URL.exec(key);
    if (!m) continue;
    out.push({
      name: m[1].toLowerCase(),
      url: env[key] ?? '',
      accessKeyId: env[`BACKUP_STORAGE_${m[1]}_ACCESS_KEY_ID`] || undefined,
      secretAccessKeyFile: env[`BACKUP_STORAGE_${m[1]}_SECRET_ACCESS_KEY_FILE`] || undefined,
    });
  }
  return out;
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
    const encryptRaw = env[`BACKUP_TARGET_${m[1]}_ENCRYPT`]?.trim().toLowerCase();
    let encrypt: boolean | undefined;
    if (encryptRaw && ['1', 'true', 'yes', 'on'].includes(encryptRaw)) encrypt = true;
    else if (encryptRaw && ['0', 'false', 'no', 'off'].includes(encryptRaw)) encrypt = false;
    else if (encryptRaw) problems.push(`BACKUP_TARGET_${m[1]}_ENCRYPT must be true or false (got "${encryptRaw}")`);
    const restoreDatabases = (env[`BACKUP_TARGET_${m[1]}_RESTORE_DATABASES`] ?? '').split(',').map((d) => d.trim()).filter(Boolean);
    const storages = (env[`BACKUP_TARGET_${m[1]}_STORAGES`] ?? '').split(',').map((d) => d.trim()).filter(Boolean);
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
      storages: storages.length ? storages : undefined,
      ...(encrypt !== undefined ? { encrypt } : {}),
    });
  }
  return targets;
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
  ...Object.fromEntries(ENV_VARIABLES.filter((v) => v.path && !v.path.includes('[') && !v.name.includes('<')).map((v) => [v.path!, v.name])),
  timezone: 'SCHEDULER_TIMEZONE/TZ',
  'auth.jwtSecret': 'JWT_SECRET',
  'encryption.recipientsFile': 'BACKUP_ENCRYPTION_RECIPIENTS',
};
const TARGET_VARIABLE: Record<string, string> = { passwordFile: 'PASSWORD_FILE', coreTables: 'CORE_TABLES', restoreDatabases: 'RESTORE_DATABASES', encrypt: 'ENCRYPT', storages: 'STORAGES' };
const STORAGE_VARIABLE: Record<string, string> = { accessKeyId: 'ACCESS_KEY_ID', secretAccessKeyFile: 'SECRET_ACCESS_KEY_FILE' };

/**
 * Option problems in the environment's terms: `CACHE_FILE_ROOT must not ...`. A variable whose
 * value could not even be parsed (already in `parsed`) is not reported twice.
 */
function variableProblems(found: OptionProblem[], o: BackupManagerOptions, parsed: string[]): string[] {
  const out: string[] = [];
  for (const { path, message: said } of found) {
    let message = said;
    let variable: string;
    let rest = '';
    const target = /^targets\[(\d+)\](?:\.(\w+))?/.exec(path);
    const plan = /^schedules\.defaultPlans\[(\d+)\]/.exec(path);
    const storage = /^storages\[(\d+)\](?:\.(\w+))?/.exec(path);
    if (storage) {
      variable = `BACKUP_STORAGE_${String(o.storages?.[Number(storage[1])]?.name ?? '?').toUpperCase()}_${STORAGE_VARIABLE[storage[2] ?? ''] ?? 'URL'}`;
    } else if (target) {
      const suffix = TARGET_VARIABLE[target[2] ?? ''];
      variable = `BACKUP_TARGET_${(o.targets[Number(target[1])]?.name ?? '?').toUpperCase()}_${suffix ?? 'URL'}`;
      if (!suffix && target[2]) rest = ` (${target[2]})`;
    } else if (/^schedules\.retention\.policies\[\d+\]$/.test(path)) {
      // A policy from RETENTION_POLICIES (or a built-in one): say what is wrong with it.
      variable = 'RETENTION_POLICIES:';
      rest = '';
      message = message.replace(/^is not a valid policy: /, '');
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
