/** Typed options of the backup-manager module. The library reads these, never `process.env`. */
import type { DataSource } from 'typeorm';
import { DEFAULTS } from './defaults.js';

export { BUILTIN_RETENTION_POLICIES, DEFAULTS } from './defaults.js';
/** Default of `queue.maxWaiting`. */
export const DEFAULT_QUEUE_MAX_WAITING = DEFAULTS.queue.maxWaiting;
/** Default of `schedules.minIntervalMinutes`. */
export const DEFAULT_SCHEDULE_MIN_INTERVAL_MINUTES = DEFAULTS.schedules.minIntervalMinutes;

export type { Compression, EngineKind } from '../common/vocabulary.js';
import type { Compression, EngineKind } from '../common/vocabulary.js';
import type { NotificationOptions } from '../notifications/notification-options.js';
export type { NotificationOptions } from '../notifications/notification-options.js';
export type AppRole = 'all' | 'api' | 'worker';

export interface TargetOptions {
  /** Lower-case name used in the API, in artifact names and in logs. */
  name: string;
  engine: EngineKind;
  host: string;
  port: number;
  user: string;
  database: string;
  /** Inline password (from the URL). Prefer `passwordFile`. */
  password?: string;
  /** File holding the password; read each time a connection is made. */
  passwordFile?: string;
  /** Core tables for `scope: partial` backups. */
  coreTables?: string[];
  /**
   * Existing databases on this target's server, besides its own, that a restore of its backups
   * may replace (`BACKUP_TARGET_<NAME>_RESTORE_DATABASES`). Never a system database.
   */
  restoreDatabases?: string[];
  /** Destinations of this target's backups when the request or schedule names none (`BACKUP_TARGET_<NAME>_STORAGES`). */
  storages?: string[];
  /** Encrypt this target's backups when a request or schedule says nothing; default `encryption.encryptByDefault`. */
  encrypt?: boolean;
}

/**
 * Encryption at rest in the age v1 format (age-encryption.org/v1). A backup worker needs only
 * public recipients; identities (secret keys) are needed only where restores, drills and full
 * verifications run. Files named here are read when used (a rotated file applies at once).
 */
export interface EncryptionOptions {
  /** age X25519 recipients (`age1…`, as age-keygen prints them) new backups are encrypted to. */
  recipients?: string[];
  /** A file of recipients, one per line (`#` comments), added to `recipients`. */
  recipientsFile?: string;
  /** A file of age identities (`AGE-SECRET-KEY-1…`), mode 0600 or stricter: opens backups for restores, drills and full verification. */
  identityFile?: string;
  /**
   * A file (0600) holding a passphrase (its final line break is not part of it): new backups are
   * encrypted with it (age's scrypt recipient) when no recipients are set; backups made with it
   * open with it.
   */
  passphraseFile?: string;
  /** Encrypt backups whose request, schedule and target say nothing. Default: true when recipients or a passphrase file are set. */
  encryptByDefault?: boolean;
  /** scrypt work factor (log2 N) of passphrase backups; default 18 (256 MiB, about a second). */
  scryptWorkFactor?: number;
}

/**
 * A named place artifacts are written to (`BACKUP_STORAGE_<NAME>_URL`): a local directory
 * (`file:///var/backups`) or an S3-compatible bucket
 * (`s3://bucket/prefix?endpoint=https://…&region=…&forcePathStyle=true`).
 */
export interface StorageDestinationOptions {
  /** Lower-case name used in the API, on records and in `storages: [...]`. */
  name: string;
  url: string;
  /** S3 access key id; with no key id and no secret the AWS SDK's default chain applies. */
  accessKeyId?: string;
  /** S3 secret access key. Prefer `secretAccessKeyFile`. */
  secretAccessKey?: string;
  /** File holding the S3 secret access key; read when the destination is opened. */
  secretAccessKeyFile?: string;
}

/** Which destinations backups use, and how S3-compatible ones upload and clean up (defaults: `DEFAULTS.storage`). */
export interface StorageTuningOptions {
  /** Destinations a backup goes to when its request, schedule and target name none. Default `['local']`. */
  defaults?: string[];
  /** Bytes per multipart part (at least 5 MiB); memory per upload is about part size × parts in flight. */
  partSizeBytes?: number;
  /** Parts uploaded at once per upload. */
  partsInFlight?: number;
  /** Multipart uploads older than this, left by a killed worker, are aborted by the reconciler; 0 = any age. */
  abandonedUploadAgeMs?: number;
}

export interface CatalogOptions {
  /** `postgres://`, `mysql://` or `sqlite:` URL; absent means an SQLite file at `sqlitePath`. */
  url?: string;
  sqlitePath: string;
  /** Run pending migrations at start-up (under a lock). */
  migrationsRun: boolean;
  /** Password for a `postgres://` or `mysql://` catalog whose URL holds none (e.g. read from a secret file). */
  password?: string;
  /**
   * A host app's TypeORM DataSource whose database holds the catalog. The library opens its own
   * connection with the same settings (its own entities, naming and migration history, so the
   * host's `synchronize` and `migration:generate` never see the catalog), migrates it like any
   * catalog, and never touches or closes the host's DataSource.
   */
  dataSource?: DataSource;
  /**
   * Prefix of the catalog's table and index names, and of its migration history table
   * (`<prefix>migrations`). Default `bm_`; `''` keeps the unprefixed names of versions before it.
   */
  tablePrefix?: string;
}

export interface AuthOptions {
  jwtSecret: string;
  /** True when the secret was generated for local development (AUTH_DEV_MODE with no JWT_SECRET). */
  devMode: boolean;
  issuer?: string;
  audience?: string;
  /**
   * Failed authentications (401) one client IP may make per window; past it, its failing requests
   * get 429 for a window (valid tokens still pass). 0 = no limit. Default 20.
   */
  failureLimit?: number;
  /** That window (also of `forbiddenLimit` and of audit aggregation), in milliseconds. Default 60000. */
  failureWindowMs?: number;
  /** Refused role checks (403) one actor may cause per window before they get 429; 0 = no limit. Default 20. */
  forbiddenLimit?: number;
  /** Longest token lifetime (`exp` − `iat`, or `exp` − now without `iat`) the built-in guard accepts. Default 24 h. */
  maxTokenLifetimeMs?: number;
  /**
   * Lifetime of a login's session token (dashboard cookie or bearer); renewed while the session is
   * used, up to `sessionMaxMs`. Default 30 min.
   */
  sessionIdleMs?: number;
  /** A login's session ends this long after it began, however active. Default 12 h. */
  sessionMaxMs?: number;
  /** Wrong passwords in a row that lock an account; 0 = never locked. Default 5. */
  loginMaxFailures?: number;
  /** First lockout; it doubles with each further wrong password (at most 1 h). Default 60 s. */
  loginLockoutMs?: number;
}

export interface BackupManagerOptions {
  targets: TargetOptions[];
  catalog: CatalogOptions;
  redisUrl: string;
  queuePrefix: string;
  storageDir: string;
  /**
   * Named destinations besides `local` (which is `storageDir` unless one named `local` is given
   * here). Default: none.
   */
  storages?: StorageDestinationOptions[];
  /** Default destinations and S3 upload tuning. */
  storage?: StorageTuningOptions;
  /** Scratch space for credential files; never inside the storage root. */
  tempDir: string;
  auth: AuthOptions;
  timezone: string;
  /** Run BullMQ workers in this process. */
  workers: boolean;
  /** Register the HTTP controllers. */
  controllers: boolean;
  /** Run schedule ticks in this process. */
  scheduler: boolean;
  /** Schedules, default plans and retention (optional for host apps: defaults apply). */
  schedules?: SchedulerOptions;
  dump: {
    defaultCompression: Compression;
    zstdLevel: number;
    gzipLevel: number;
    timeoutMs: number;
    lockWaitTimeoutMs: number;
    /**
     * `pg_restore --jobs` when a custom archive is restored into a new database; 0 (the default):
     * the number of CPU cores.
     */
    restoreJobs?: number;
    /** Default dump format of PostgreSQL targets when a request names none. MySQL is always `plain`. */
    pgFormat?: 'plain' | 'custom';
    /**
     * Where PostgreSQL client programs are installed per major version (`<root>/<major>/bin/pg_dump`,
     * Debian's layout); the dump of each server uses the lowest major not older than it, else the
     * `pg_dump` on PATH. Default `/usr/lib/postgresql`.
     */
    pgClientRoot?: string;
  };
  queue: {
    attempts: number;
    concurrency: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
    backoffMs: number;
    /**
     * Start even if Redis may evict keys (`maxmemory-policy` other than `noeviction`), with a
     * warning. Default false: start-up refuses, since an evicted job or lock loses work silently.
     */
    allowEviction?: boolean;
    /**
     * Most jobs that may wait in the queue (waiting, delayed or prioritized) before requests for
     * backups, restores and verifications are refused with 429 and `Retry-After`; 0 = no cap.
     * Default `DEFAULT_QUEUE_MAX_WAITING` (100).
     */
    maxWaiting?: number;
  };
  /** How long a running job may finish after SIGTERM before it is aborted. */
  shutdownGraceMs: number;
  /** Encryption at rest (optional: without it, backups are not encrypted). */
  encryption?: EncryptionOptions;
  /**
   * Publish this process's domain events on Redis (`<queuePrefix>:events`) and re-emit the other
   * processes' events on the app's emitter, so a host's `@OnEvent` handler hears a completion
   * wherever the job ran. Default true.
   */
  relayEvents?: boolean;
  /** Health checks and metrics (optional for host apps: defaults apply). */
  monitoring?: MonitoringOptions;
  /** What `DELETE /cache` may clear (optional for host apps: nothing but in-memory caches). */
  cache?: CacheOptions;
  /** Alerts by e-mail and webhooks (optional for host apps: defaults apply, no channel until one is made). */
  notifications?: NotificationOptions;
}

export interface MonitoringOptions {
  /** Readiness fails when the storage filesystem has less free space than this. */
  minFreeBytes: number;
  /** Newest good backup of a target older than this makes `/system/health` unhealthy; 0 = not checked. */
  maxBackupAgeMs: number;
  /** Per-target override of `maxBackupAgeMs` (by target name). */
  targetMaxBackupAgeMs: Record<string, number>;
  /** Time limit of each health indicator. */
  checkTimeoutMs: number;
}

export interface CacheOptions {
  /** Redis key prefixes `cacheType: redis` clears (SCAN + UNLINK); never overlapping `queuePrefix`. */
  redisPrefixes: string[];
  /** Redis key prefixes of sessions, cleared by `cacheType: session`. */
  sessionPrefixes: string[];
  /** Redis holding those keys; default `redisUrl`. */
  redisUrl?: string;
  /** Directory whose contents `cacheType: file` clears (temp files, uploads); nothing outside it. */
  fileRoot?: string;
}

export function defaultNotificationOptions(): NotificationOptions {
  return { ...DEFAULTS.notifications, channels: [] };
}

export function defaultMonitoringOptions(): MonitoringOptions {
  return { ...DEFAULTS.monitoring, targetMaxBackupAgeMs: {} };
}

/** Per-type retention rule: keep at most `maxCount` good backups, none older than `maxAgeDays`. */
export interface RetentionRule {
  maxAgeDays?: number;
  maxCount?: number;
}

/** Grandfather-father-son tiers, each window measured back from now in the policy's time zone. */
export interface RetentionTiers {
  /** Keep every backup younger than this many days. */
  keepAllDays?: number;
  /** Keep the newest backup of each of the last N calendar days. */
  dailyDays?: number;
  /** ... of each of the last N ISO weeks. */
  weeklyWeeks?: number;
  /** ... of each of the last N calendar months. */
  monthlyMonths?: number;
  /** ... of each of the last N calendar years. */
  yearlyYears?: number;
}

/**
 * A named retention policy. `tiered` keeps what the tiers select; `per-type` applies `rules` by
 * backup type (types without a rule fall back to `maxAgeDays`); `age` keeps backups younger
 * than `maxAgeDays`. `maxTotalBytes` caps the bytes kept per target. Pinned backups and the
 * newest good backup of each target that holds its data (full scope, schema and data) are kept
 * whatever the policy says; each kind of copy (schema-only, data-only, partial...) fills its own
 * `maxCount` and tier slots (docs/retention.md).
 */
export interface RetentionPolicy {
  name: string;
  kind: 'tiered' | 'per-type' | 'age';
  description?: string;
  tiers?: RetentionTiers;
  rules?: Partial<Record<'manual' | 'daily' | 'weekly' | 'monthly', RetentionRule>>;
  maxAgeDays?: number;
  maxTotalBytes?: number;
}

export interface DefaultPlan {
  type: 'daily' | 'weekly' | 'monthly';
  cron: string;
}

export interface SchedulerOptions {
  /** How often each scheduler process re-reads the schedules from the catalog. */
  syncIntervalMs: number;
  /** Create default plans (per target) on first start when the catalog holds no schedule. */
  defaultPlans: DefaultPlan[];
  retention: {
    policies: RetentionPolicy[];
    /** The policy of backups without one (manual ones, schedules that name none). */
    defaultPolicy: string;
    /** When the cleanup runs (in `timezone`); empty disables the timed cleanup. */
    cleanupCron: string;
  };
  /**
   * When restore drills run (in `timezone`): the newest good backup of every target is restored
   * into a throwaway database and compared with its row counts. Empty disables them.
   */
  drillCron?: string;
  /**
   * Shortest time allowed between two runs of a schedule (API schedules, default plans and the
   * drill cron), in minutes; 0 = no minimum. Default `DEFAULT_SCHEDULE_MIN_INTERVAL_MINUTES` (5).
   */
  minIntervalMinutes?: number;
}


export function defaultSchedulerOptions(): SchedulerOptions {
  const d = DEFAULTS.schedules;
  return { ...d, defaultPlans: d.defaultPlans.map((p) => ({ ...p })), retention: { ...d.retention, policies: [...d.retention.policies] } };
}

export const BACKUP_MANAGER_OPTIONS = Symbol('BACKUP_MANAGER_OPTIONS');
