import type { AppRole, Compression, DefaultPlan, RetentionPolicy } from './options.js';

const HOUR = 3600_000;

/** Built-in retention policies; `RETENTION_POLICIES` (or `schedules.retention.policies`) may override them by name or add more. */
export const BUILTIN_RETENTION_POLICIES: RetentionPolicy[] = [
  {
    name: 'standard',
    kind: 'per-type',
    description: 'Per type: manual 90 days/10, daily 30 days/30, weekly 90 days/12, monthly 365 days/12',
    rules: {
      manual: { maxAgeDays: 90, maxCount: 10 },
      daily: { maxAgeDays: 30, maxCount: 30 },
      weekly: { maxAgeDays: 90, maxCount: 12 },
      monthly: { maxAgeDays: 365, maxCount: 12 },
    },
    maxAgeDays: 30,
  },
  {
    name: 'gfs',
    kind: 'tiered',
    description: 'Everything for 7 days, then the newest per day for 30 days, per ISO week for 12 weeks, per month for 12 months, per year for 3 years',
    tiers: { keepAllDays: 7, dailyDays: 30, weeklyWeeks: 12, monthlyMonths: 12, yearlyYears: 3 },
  },
  { name: '30-days', kind: 'age', description: 'Everything for 30 days', maxAgeDays: 30 },
];

/**
 * Every default of the options, in one place: the environment (`loadConfig`), `forRoot` and the
 * services that read an optional setting all take theirs from here. Paths are relative to
 * `dataDir` (the working directory's `data`, or `DATA_DIR`).
 */
export const DEFAULTS = {
  dataDir: './data',
  paths: { catalog: 'catalog.sqlite', storage: 'backups', temp: 'tmp', cacheFiles: 'cache' },
  redisUrl: 'redis://127.0.0.1:6379',
  queuePrefix: 'backup-manager',
  timezone: 'UTC',
  catalog: { migrationsRun: true, tablePrefix: 'bm_' },
  auth: {
    failureLimit: 20,
    failureWindowMs: 60_000,
    forbiddenLimit: 20,
    maxTokenLifetimeMs: 24 * HOUR,
    sessionIdleMs: 30 * 60_000,
    sessionMaxMs: 12 * HOUR,
    loginMaxFailures: 5,
    loginLockoutMs: 60_000,
  },
  dump: {
    defaultCompression: 'zstd' as Compression,
    zstdLevel: 3,
    gzipLevel: 6,
    timeoutMs: 6 * HOUR,
    lockWaitTimeoutMs: 30_000,
    restoreJobs: 0,
    pgFormat: 'custom' as 'plain' | 'custom',
  },
  queue: { attempts: 3, concurrency: 1, lockDurationMs: 30_000, stalledIntervalMs: 30_000, backoffMs: 5_000, allowEviction: false, maxWaiting: 100 },
  shutdownGraceMs: 10_000,
  storage: { defaults: ['local'], partSizeBytes: 8 * 1024 * 1024, partsInFlight: 2, abandonedUploadAgeMs: 24 * HOUR },
  encryption: { scryptWorkFactor: 18 },
  relayEvents: true,
  monitoring: { minFreeBytes: 1024 ** 3, maxBackupAgeMs: 24 * HOUR, checkTimeoutMs: 3_000 },
  notifications: {
    enabled: true,
    dedupWindowMs: 6 * HOUR,
    checkIntervalMs: 60_000,
    workerMissingMs: 10 * 60_000,
    attempts: 8,
    backoffMs: 30_000,
    timeoutMs: 10_000,
    digestDailyCron: '0 8 * * *',
    digestWeeklyCron: '0 8 * * 1',
  },
  schedules: {
    syncIntervalMs: 5_000,
    defaultPlans: [
      { type: 'daily', cron: '0 2 * * *' },
      { type: 'weekly', cron: '0 3 * * 0' },
      { type: 'monthly', cron: '0 4 1 * *' },
    ] as DefaultPlan[],
    retention: { policies: BUILTIN_RETENTION_POLICIES, defaultPolicy: 'standard', cleanupCron: '0 5 * * *' },
    drillCron: '0 6 * * 0',
    minIntervalMinutes: 5,
  },
  /** The standalone service's own settings (not module options). */
  service: {
    port: 3000,
    role: 'all' as AppRole,
    logLevel: 'info',
    bodyLimitKb: 100,
    schedulerEnabled: true,
    defaultPlans: true,
    devMode: false,
    dashboard: true,
    dashboardPath: '/',
  },
};
