/**
 * How a variable's text becomes an option value. `int` is scaled by `scale` (hours → ms), `cron`
 * keeps an empty value (it switches the timer off), `list` splits on commas; `custom` is read by
 * `loadConfig` itself (secrets, targets, paths under DATA_DIR, JSON).
 */
export type EnvKind = 'int' | 'bool' | 'choice' | 'string' | 'cron' | 'list' | 'custom';

export interface EnvVariable {
  /** The variable, or a family such as `BACKUP_TARGET_<NAME>_URL`. */
  name: string;
  /** The option it sets (`dump.zstdLevel`); `service.*` for the standalone service's own settings; none when read outside `loadConfig`. */
  path?: string;
  kind: EnvKind;
  description: string;
  /** The option value is the variable's times this (e.g. 3600000 for hours). */
  scale?: number;
  /** Bounds of a service-only integer (option bounds come from `validateOptions`). */
  min?: number;
  max?: number;
  /** Allowed values of a service-only choice (option choices come from `validateOptions`). */
  choices?: readonly string[];
  /** The default as the README shows it, when it is not `DEFAULTS` at `path` divided by `scale`. */
  shown?: string;
}

const HOUR = 3600_000;
const MB = 1024 * 1024;

/**
 * Every environment variable of the service: what option it sets, how it is read, its default
 * and meaning. `loadConfig` reads the environment through it, problems are named by it, and the
 * README's configuration table is generated from it (`npm run docs:env`; a test keeps them equal).
 */
export const ENV_VARIABLES: EnvVariable[] = [
  { name: 'PORT', path: 'service.port', kind: 'int', min: 0, max: 65535, description: 'HTTP port; one in use stops start-up with exit code 78' },
  { name: 'HOST', kind: 'custom', shown: '`0.0.0.0`', description: 'address the HTTP server binds' },
  { name: 'APP_ROLE', path: 'service.role', kind: 'choice', choices: ['all', 'api', 'worker'], description: '`all`, `api` or `worker` (see above)' },
  { name: 'CONFIG_FILE', kind: 'custom', description: 'JSON file of these variables (by name); the environment wins over it' },
  { name: 'DATA_DIR', kind: 'custom', shown: '`./data`', description: 'base for the defaults below' },
  { name: 'CATALOG_URL', path: 'catalog.url', kind: 'string', shown: 'SQLite file `DATA_DIR/catalog.sqlite`', description: '`postgres://…`, `mysql://…` or `sqlite:/path`' },
  { name: 'CATALOG_PASSWORD_FILE', path: 'catalog.password', kind: 'custom', description: "file holding the catalog's password, for a `CATALOG_URL` without one (read at start-up)" },
  { name: 'CATALOG_MIGRATIONS_RUN', path: 'catalog.migrationsRun', kind: 'bool', description: 'run pending catalog migrations at start-up (under a lock); else `npm run migrate`' },
  {
    name: 'CATALOG_TABLE_PREFIX',
    path: 'catalog.tablePrefix',
    kind: 'custom',
    description: "prefix of the catalog's tables and indexes, and of its history table `<prefix>migrations`; set but empty: the unprefixed names of older versions (history `backup_manager_migrations`)",
  },
  { name: 'STORAGE_DIR', path: 'storageDir', kind: 'custom', shown: '`DATA_DIR/backups`', description: 'where artifacts and manifests go' },
  {
    name: 'BACKUP_STORAGE_<NAME>_URL',
    path: 'storages',
    kind: 'custom',
    description:
      "another destination for artifacts, named `<NAME>` lower-cased: `file:///var/backups` or `s3://bucket/prefix?endpoint=https://…&region=…&forcePathStyle=true` (AWS S3, MinIO, R2, B2, Wasabi, Ceph); `local` is `STORAGE_DIR` unless set this way",
  },
  { name: 'BACKUP_STORAGE_<NAME>_ACCESS_KEY_ID', path: 'storages[].accessKeyId', kind: 'custom', description: "that S3 destination's access key id (with neither it nor the secret: the AWS SDK's default chain)" },
  { name: 'BACKUP_STORAGE_<NAME>_SECRET_ACCESS_KEY_FILE', path: 'storages[].secretAccessKeyFile', kind: 'custom', description: 'file holding its secret access key (read at start-up; never logged)' },
  {
    name: 'BACKUP_STORAGES',
    path: 'storage.defaults',
    kind: 'list',
    description: 'comma-separated destinations of a backup whose request, schedule and target name none; the dump runs once and streams to each',
  },
  { name: 'S3_PART_SIZE_MB', path: 'storage.partSizeBytes', kind: 'int', scale: MB, description: 'multipart part size; memory per upload is about this × `S3_PARTS_IN_FLIGHT`' },
  { name: 'S3_PARTS_IN_FLIGHT', path: 'storage.partsInFlight', kind: 'int', description: 'parts of one upload sent at once' },
  {
    name: 'S3_ABANDONED_UPLOAD_HOURS',
    path: 'storage.abandonedUploadAgeMs',
    kind: 'int',
    scale: HOUR,
    description: 'unfinished multipart uploads older than this (left by a killed worker) are aborted by the reconciler; 0 = any age',
  },
  { name: 'TEMP_DIR', path: 'tempDir', kind: 'custom', shown: '`DATA_DIR/tmp`', description: 'credential files (0600, removed after use)' },
  { name: 'REDIS_URL', path: 'redisUrl', kind: 'string', description: 'queue and locks' },
  { name: 'QUEUE_PREFIX', path: 'queuePrefix', kind: 'string', description: 'BullMQ key prefix; one per installation' },
  { name: 'JWT_SECRET', path: 'auth.jwtSecret', kind: 'custom', shown: '— (required)', description: 'HS256 key, at least 32 characters' },
  { name: 'JWT_SECRET_FILE', path: 'auth.jwtSecret', kind: 'custom', description: 'file holding `JWT_SECRET` (a container secret), when that is not set' },
  { name: 'JWT_ISSUER', path: 'auth.issuer', kind: 'string', description: 'checked when set' },
  { name: 'JWT_AUDIENCE', path: 'auth.audience', kind: 'string', description: 'checked when set' },
  {
    name: 'AUTH_DEV_MODE',
    path: 'service.devMode',
    kind: 'bool',
    description: 'with no `JWT_SECRET`, sign with a secret generated into `DATA_DIR/.dev-jwt-secret` (never in production); the 32-character minimum still applies to a secret you set',
  },
  {
    name: 'JWT_MAX_LIFETIME_HOURS',
    path: 'auth.maxTokenLifetimeMs',
    kind: 'int',
    scale: HOUR,
    description: 'longest token lifetime accepted (`exp` − `iat`, or `exp` − now); an `iat` more than 60 s ahead is refused',
  },
  {
    name: 'SESSION_IDLE_MINUTES',
    path: 'auth.sessionIdleMs',
    kind: 'int',
    scale: 60_000,
    description: 'lifetime of a login\'s session token (dashboard cookie or `POST /api/v1/auth/login` bearer), renewed while the dashboard is used',
  },
  { name: 'SESSION_MAX_HOURS', path: 'auth.sessionMaxMs', kind: 'int', scale: HOUR, description: 'a login ends this long after it began, however active' },
  { name: 'LOGIN_MAX_FAILURES', path: 'auth.loginMaxFailures', kind: 'int', description: 'wrong passwords in a row that lock an account (0: never locked)' },
  {
    name: 'LOGIN_LOCKOUT_SECONDS',
    path: 'auth.loginLockoutMs',
    kind: 'int',
    scale: 1000,
    description: 'first lockout of an account; it doubles with each further wrong password, up to 1 h; a right password during it is refused too',
  },
  {
    name: 'DASHBOARD_ENABLED',
    path: 'service.dashboard',
    kind: 'bool',
    description: 'serve the web dashboard (built by `npm run build`); the API is unaffected',
  },
  { name: 'DASHBOARD_PATH', path: 'service.dashboardPath', kind: 'string', description: 'where the dashboard is served, e.g. `/` or `/backups-ui` (not under `/api`, `/docs`, `/health` or `/metrics`)' },
  { name: 'SCHEDULER_TIMEZONE', path: 'timezone', kind: 'custom', shown: '`TZ`, else `UTC`', description: 'IANA zone for schedules' },
  { name: 'SCHEDULER_ENABLED', path: 'service.schedulerEnabled', kind: 'bool', description: 'run schedule ticks in this process (never in `APP_ROLE=api`)' },
  {
    name: 'BACKUP_TARGET_<NAME>_URL',
    path: 'targets',
    kind: 'custom',
    description: "a database to back up: `postgres://user:pass@host:port/db` or `mysql://…`; the target's name is `<NAME>` lower-cased",
  },
  { name: 'BACKUP_TARGET_<NAME>_PASSWORD_FILE', path: 'targets[].passwordFile', kind: 'custom', description: 'file holding the password (read at each connection); preferred over a password in the URL' },
  {
    name: 'BACKUP_TARGET_<NAME>_CORE_TABLES',
    path: 'targets[].coreTables',
    kind: 'custom',
    description:
      'comma-separated tables of a `partial` backup, named as `GET /api/v1/targets/:name/tables` lists them (PostgreSQL: `sales.items`, `"Mixed Case"`; a comma inside double quotes is part of a name; see [docs/restore.md](docs/restore.md#table-names))',
  },
  {
    name: 'BACKUP_TARGET_<NAME>_RESTORE_DATABASES',
    path: 'targets[].restoreDatabases',
    kind: 'custom',
    description:
      "comma-separated existing databases on the target's server, besides its own, that restores of its backups may replace (never a system database or a `bm_*` name); see [docs/restore.md](docs/restore.md#where-a-restore-may-write)",
  },
  { name: 'BACKUP_TARGET_<NAME>_STORAGES', path: 'targets[].storages', kind: 'custom', shown: '`BACKUP_STORAGES`', description: "comma-separated destinations of that target's backups" },
  { name: 'BACKUP_TARGET_<NAME>_ENCRYPT', path: 'targets[].encrypt', kind: 'custom', shown: '`BACKUP_ENCRYPTION_DEFAULT`', description: "`true`/`false`: that target's own `BACKUP_ENCRYPTION_DEFAULT`" },
  {
    name: 'BACKUP_TARGET_<NAME>_MAX_AGE_HOURS',
    path: 'monitoring.targetMaxBackupAgeMs',
    kind: 'custom',
    shown: '`BACKUP_MAX_AGE_HOURS`',
    description: "that target's own `BACKUP_MAX_AGE_HOURS`",
  },
  { name: 'BACKUP_COMPRESSION', path: 'dump.defaultCompression', kind: 'choice', description: '`zstd`, `gzip` or `none`' },
  { name: 'ZSTD_LEVEL', path: 'dump.zstdLevel', kind: 'int', description: 'zstd compression level' },
  { name: 'GZIP_LEVEL', path: 'dump.gzipLevel', kind: 'int', description: 'gzip compression level' },
  { name: 'DUMP_TIMEOUT_MS', path: 'dump.timeoutMs', kind: 'int', shown: '`21600000` (6 h)', description: 'a dump running longer is killed and fails' },
  { name: 'DUMP_LOCK_WAIT_TIMEOUT_MS', path: 'dump.lockWaitTimeoutMs', kind: 'int', description: '`pg_dump --lock-wait-timeout`: fail fast on a locked table' },
  {
    name: 'RESTORE_JOBS',
    path: 'dump.restoreJobs',
    kind: 'int',
    shown: '`0` (the CPU cores)',
    description:
      'parallel connections (`pg_restore --jobs`) of a PostgreSQL custom-format restore into a new database; 0: one per CPU core. From 3 on the archive is first unpacked to a temp file, which `--jobs` needs; with 1 or 2 one pg_restore reads it as zstd unpacks it (on 2 cores that was faster: no unpacking step, 1.5-1.9 s per GB)',
  },
  {
    name: 'BACKUP_PG_FORMAT',
    path: 'dump.pgFormat',
    kind: 'choice',
    description:
      'PostgreSQL format when a request names none: `custom` (`pg_dump -Fc`, restored with `pg_restore`; measured 14–16% faster to restore than plain SQL, and restorable table by table) or `plain`',
  },
  {
    name: 'BACKUP_ENCRYPTION_RECIPIENTS',
    path: 'encryption.recipients',
    kind: 'custom',
    description:
      'age X25519 recipients (`age1…`, comma-separated) new backups are encrypted to, or the path of a file of them (one per line); public keys: all a backup worker needs (see [docs/encryption.md](docs/encryption.md))',
  },
  {
    name: 'BACKUP_ENCRYPTION_IDENTITY_FILE',
    path: 'encryption.identityFile',
    kind: 'string',
    description: 'file of age identities (`AGE-SECRET-KEY-1…`, as age-keygen writes them), mode 0600: only where restores, drills and full verifications run',
  },
  {
    name: 'BACKUP_ENCRYPTION_PASSPHRASE_FILE',
    path: 'encryption.passphraseFile',
    kind: 'string',
    description: "file (0600) holding a passphrase: backups are encrypted with it (age's scrypt recipient) when no recipients are set, and backups made with it open with it",
  },
  {
    name: 'BACKUP_ENCRYPTION_DEFAULT',
    path: 'encryption.encryptByDefault',
    kind: 'bool',
    shown: 'on when recipients or a passphrase are set',
    description: 'encrypt backups whose request (`encrypt`), schedule and target (`BACKUP_TARGET_<NAME>_ENCRYPT`) say nothing',
  },
  { name: 'BACKUP_ENCRYPTION_SCRYPT_WORK_FACTOR', path: 'encryption.scryptWorkFactor', kind: 'int', description: 'scrypt work factor (log2 N) of passphrase backups (18: 256 MiB of memory for about a second)' },
  { name: 'JOB_ATTEMPTS', path: 'queue.attempts', kind: 'int', description: 'attempts for retryable failures (bad credentials and unknown databases are never retried)' },
  { name: 'JOB_BACKOFF_MS', path: 'queue.backoffMs', kind: 'int', description: 'first retry delay (exponential)' },
  { name: 'WORKER_CONCURRENCY', path: 'queue.concurrency', kind: 'int', description: 'jobs per worker process' },
  { name: 'JOB_LOCK_DURATION_MS', path: 'queue.lockDurationMs', kind: 'int', description: "how fast a dead worker's job is handed to another" },
  { name: 'JOB_STALLED_INTERVAL_MS', path: 'queue.stalledIntervalMs', kind: 'int', description: 'how often workers look for stalled jobs' },
  { name: 'SHUTDOWN_GRACE_MS', path: 'shutdownGraceMs', kind: 'int', description: 'how long a running job may finish after SIGTERM' },
  {
    name: 'EVENT_RELAY',
    path: 'relayEvents',
    kind: 'bool',
    description: 'share domain events (`backup.completed`, ...) between processes through Redis pub/sub, so `@OnEvent` handlers hear them wherever the job ran',
  },
  { name: 'LOG_LEVEL', path: 'service.logLevel', kind: 'choice', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'pino level' },
  {
    name: 'SCHEDULER_SYNC_INTERVAL_MS',
    path: 'schedules.syncIntervalMs',
    kind: 'int',
    description: 'how often each replica re-reads schedules (changes through the API reach every replica within this)',
  },
  { name: 'SCHEDULER_DEFAULT_PLANS', path: 'service.defaultPlans', kind: 'bool', description: 'create daily/weekly/monthly plans per target on first start' },
  { name: 'SCHEDULER_DAILY_CRON', path: 'schedules.defaultPlans[daily]', kind: 'custom', shown: '`0 2 * * *`', description: 'cron of the default daily plan (empty: none)' },
  { name: 'SCHEDULER_WEEKLY_CRON', path: 'schedules.defaultPlans[weekly]', kind: 'custom', shown: '`0 3 * * 0`', description: 'cron of the default weekly plan (empty: none)' },
  { name: 'SCHEDULER_MONTHLY_CRON', path: 'schedules.defaultPlans[monthly]', kind: 'custom', shown: '`0 4 1 * *`', description: 'cron of the default monthly plan (empty: none)' },
  {
    name: 'RETENTION_POLICIES',
    path: 'schedules.retention.policies',
    kind: 'custom',
    shown: '—',
    description: 'JSON array of policies, adding to or overriding the built-ins `standard`, `gfs`, `30-days`',
  },
  { name: 'RETENTION_DEFAULT_POLICY', path: 'schedules.retention.defaultPolicy', kind: 'string', description: 'policy of backups without one' },
  { name: 'RETENTION_MAX_TOTAL_BYTES', path: 'schedules.retention.policies[].maxTotalBytes', kind: 'custom', description: 'size cap for policies that set none' },
  { name: 'RETENTION_CLEANUP_CRON', path: 'schedules.retention.cleanupCron', kind: 'cron', description: 'when cleanup runs (empty: never on its own)' },
  {
    name: 'RESTORE_DRILL_CRON',
    path: 'schedules.drillCron',
    kind: 'cron',
    description: 'when the newest good backup of each target is restored into a throwaway database and its row counts compared (empty: never)',
  },
  {
    name: 'SCHEDULE_MIN_INTERVAL_MINUTES',
    path: 'schedules.minIntervalMinutes',
    kind: 'int',
    description:
      "shortest time allowed between two runs of a schedule (API schedules, default plans, the drill cron), measured over the next runs in the schedule's zone; a cron that runs more often is refused (400 through the API, exit 78 at start-up); 0 = no minimum",
  },
  {
    name: 'QUEUE_MAX_WAITING',
    path: 'queue.maxWaiting',
    kind: 'int',
    description: 'jobs that may wait for a worker; beyond, requests for backups, restores and verifications get 429 `QUEUE_FULL` with `Retry-After`, and nothing is recorded; 0 = no cap',
  },
  {
    name: 'AUTH_FAILURE_LIMIT',
    path: 'auth.failureLimit',
    kind: 'int',
    description: "after this many 401s from one IP within the window, that IP's failing requests get 429 for a window (valid tokens still pass; per API process; 0 disables)",
  },
  { name: 'AUTH_FAILURE_WINDOW_MS', path: 'auth.failureWindowMs', kind: 'int', description: 'that window (also of `AUTH_FORBIDDEN_LIMIT` and of audit summaries)' },
  {
    name: 'AUTH_FORBIDDEN_LIMIT',
    path: 'auth.forbiddenLimit',
    kind: 'int',
    description:
      'after this many 403s of one user (token subject) within the window, their refused calls get 429 for a window (0 disables); the audit trail records the first 5 of each kind per caller and window, then one entry summing up the rest',
  },
  {
    name: 'TRUST_PROXY',
    path: 'service.trustProxy',
    kind: 'custom',
    shown: 'off',
    description:
      "behind a reverse proxy: the number of proxies in front (e.g. `1`), or their addresses and CIDR subnets (`10.0.0.0/8, loopback`), so limits and audit see the client's IP (Express `trust proxy`; `true` is refused)",
  },
  { name: 'HTTP_BODY_LIMIT_KB', path: 'service.bodyLimitKb', kind: 'int', min: 1, max: 1024 * 1024, description: 'largest JSON body (413 beyond, also for gzip bodies that inflate past it)' },
  {
    name: 'REDIS_ALLOW_EVICTION',
    path: 'queue.allowEviction',
    kind: 'bool',
    description: "start even if Redis's `maxmemory-policy` is not `noeviction` (with a loud warning); otherwise start-up refuses",
  },
  { name: 'HEALTH_MIN_FREE_MB', path: 'monitoring.minFreeBytes', kind: 'int', scale: MB, description: '`/health/ready` fails below this much free space on the storage filesystem' },
  { name: 'HEALTH_CHECK_TIMEOUT_MS', path: 'monitoring.checkTimeoutMs', kind: 'int', description: 'per check of `/health/ready`' },
  {
    name: 'HEALTH_FILE',
    kind: 'custom',
    description: 'worker role: every 10 s the checks of `/health/ready` run and, while they pass, this file (0600) is rewritten; stale or missing means unhealthy (the worker serves no HTTP)',
  },
  {
    name: 'BACKUP_MAX_AGE_HOURS',
    path: 'monitoring.maxBackupAgeMs',
    kind: 'int',
    scale: HOUR,
    description: '`/api/v1/system/health` reports a target unhealthy when its newest good backup is older (0: not checked)',
  },
  {
    name: 'NOTIFY_CHANNELS',
    path: 'notifications.channels',
    kind: 'custom',
    shown: '—',
    description:
      'JSON array of notification channels, as the body of `POST /api/v1/notifications/channels`; secrets preferably as files (`passwordFile`, `urlFile`, `secretFile`, `botTokenFile`, read at each delivery). Read-only through the API (see [Notifications](#notifications))',
  },
  { name: 'NOTIFY_ENABLED', path: 'notifications.enabled', kind: 'bool', description: 'send alerts; `false` still tracks conditions (`GET /api/v1/notifications/alerts`) but queues and sends nothing (`POST …/test` still sends)' },
  { name: 'NOTIFY_PUBLIC_URL', path: 'notifications.publicUrl', kind: 'string', description: 'the API as people reach it (e.g. `https://backups.example.com/api/v1`); messages link to `<it>/backups/<id>`' },
  { name: 'NOTIFY_DEDUP_WINDOW_MINUTES', path: 'notifications.dedupWindowMs', kind: 'int', scale: 60_000, description: 'the same condition of the same target alerts at most once per this window; "resolved" goes out when it clears' },
  { name: 'NOTIFY_CHECK_INTERVAL_MS', path: 'notifications.checkIntervalMs', kind: 'int', description: 'how often stale targets, free space and workers are checked' },
  { name: 'NOTIFY_WORKER_MISSING_MINUTES', path: 'notifications.workerMissingMs', kind: 'int', scale: 60_000, description: 'alert when jobs wait and no worker has been seen for this long' },
  { name: 'NOTIFY_ATTEMPTS', path: 'notifications.attempts', kind: 'int', description: 'delivery tries per message (a receiver refusing with 4xx is not tried again)' },
  { name: 'NOTIFY_BACKOFF_MS', path: 'notifications.backoffMs', kind: 'int', description: 'first retry delay of a delivery, doubling at each try (8 tries from 30 s span about an hour)' },
  { name: 'NOTIFY_TIMEOUT_MS', path: 'notifications.timeoutMs', kind: 'int', description: 'time limit of one delivery try (HTTP request, SMTP session)' },
  { name: 'NOTIFY_DIGEST_DAILY_CRON', path: 'notifications.digestDailyCron', kind: 'cron', description: 'when the daily digest goes out (in `SCHEDULER_TIMEZONE`; empty: never)' },
  { name: 'NOTIFY_DIGEST_WEEKLY_CRON', path: 'notifications.digestWeeklyCron', kind: 'cron', description: 'when the weekly digest goes out (empty: never)' },
  { name: 'CACHE_REDIS_PREFIXES', path: 'cache.redisPrefixes', kind: 'list', description: "comma-separated Redis key prefixes `DELETE /api/v1/cache` may clear (never the queue's)" },
  { name: 'CACHE_SESSION_PREFIXES', path: 'cache.sessionPrefixes', kind: 'list', description: 'comma-separated Redis key prefixes of sessions (`cacheType: session`)' },
  { name: 'CACHE_REDIS_URL', path: 'cache.redisUrl', kind: 'string', shown: '`REDIS_URL`', description: 'Redis holding those keys' },
  {
    name: 'CACHE_FILE_ROOT',
    path: 'cache.fileRoot',
    kind: 'custom',
    shown: '`DATA_DIR/cache`',
    description:
      'the only directory file-cache clearing touches; it may not hold, or lie inside, `STORAGE_DIR` or `TEMP_DIR`, nor hold the SQLite catalog; clearing never follows a symlink (Linux: walks by directory descriptor through `/proc`)',
  },
];
