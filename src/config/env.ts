import { join, resolve } from 'node:path';
import { DEFAULTS } from './defaults.js';
import { ENV_VARIABLES } from './env-variables.js';
import { envValue, environmentProblems } from './env-values.js';
import { DEV_SECRET_FILE, devSecret, readConfigFile, readPasswordFile, readSecretFile, type Env } from './env-files.js';
import { variableProblems } from './env-problems.js';
import { dashboardPath, defaultPlans, parseJsonList, parseTrustProxy, recipientsOf, retentionPolicies } from './env-settings.js';
import { parseStorages, parseTargetMaxAges, parseTargets } from './env-targets.js';
import type { ChannelConfig } from '../notifications/channel-kinds.js';
import type { AppRole, BackupManagerOptions, CacheOptions, EncryptionOptions, MonitoringOptions, NotificationOptions, SchedulerOptions, StorageTuningOptions } from './options.js';
import { validateOptions } from './validate-options.js';

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
