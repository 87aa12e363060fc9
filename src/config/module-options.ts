import type { CanActivate, Type } from '@nestjs/common';
import { join, resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import type { Actor } from '../auth/roles.js';
import { DEFAULTS } from './defaults.js';
import {
  defaultNotificationOptions,
  defaultSchedulerOptions,
  type NotificationOptions,
  type AuthOptions,
  type BackupManagerOptions,
  type CacheOptions,
  type CatalogOptions,
  type TargetOptions,
} from './options.js';
import { MIN_JWT_SECRET_LENGTH, validateOptions } from './validate-options.js';

/** A target read from a host's TypeORM DataSource (postgres or mysql/mariadb driver). */
export interface DataSourceTargetOptions {
  /** Lower-case name used in the API, in artifact names and in logs. */
  name: string;
  dataSource: DataSource;
  /** Core tables for `scope: partial` backups. */
  coreTables?: string[];
  /** Existing databases on the same server, besides its own, that a restore may replace (see `TargetOptions`). */
  restoreDatabases?: string[];
  /** Destinations of this target's backups (see `TargetOptions`). */
  storages?: string[];
  /** Encrypt this target's backups by default (see `TargetOptions.encrypt`). */
  encrypt?: boolean;
}

/**
 * How the library reads the caller when the host authenticates (the `guard` extra). Nobody gets a
 * library role by default: the host maps its users explicitly, with `actorFromRequest` or by
 * giving them namespaced roles (`backup:viewer`, `backup:operator`, `backup:admin`).
 */
export interface HostAuthOptions {
  /**
   * Who the caller is, once the host has authenticated the request (`req.user` is set): an actor
   * with one of the library's roles, or undefined to refuse (403). Default: `req.user` with `sub`
   * (or `id`, `username`, `email`), `name`, and the highest of its `role`/`roles` that is exactly
   * `<rolePrefix>viewer`, `<rolePrefix>operator` or `<rolePrefix>admin`.
   */
  actorFromRequest?: (req: unknown) => Actor | undefined;
  /** Namespace of the host roles the default mapping reads. Default `backup:`. */
  rolePrefix?: string;
}

/**
 * Options of `BackupManagerModule.forRoot()` / the factory of `forRootAsync()`. Everything has a
 * default (`DEFAULTS`), so a host passes only what differs: `redisUrl` `redis://127.0.0.1:6379`,
 * `queuePrefix` `backup-manager`, `storageDir` `./data/backups`, `tempDir` `./data/tmp`, `timezone` UTC.
 * `workers` and `scheduler` are off unless switched on: inside a host, jobs run in separate worker
 * processes by default (`BackupManagerWorkerModule`). No default plans and no drills are created
 * unless `schedules.defaultPlans` / `schedules.drillCron` ask for them.
 */
export interface BackupManagerModuleOptions
  extends Partial<Omit<BackupManagerOptions, 'targets' | 'catalog' | 'auth' | 'dump' | 'queue' | 'controllers' | 'cache' | 'notifications'>> {
  /** Databases to back up: connection details, or a host DataSource to read them from. */
  targets?: Array<TargetOptions | DataSourceTargetOptions>;
  /** Catalog connection: a URL, an SQLite file, or a host DataSource (`{ dataSource }`). Default: SQLite in `./data/catalog.sqlite`. */
  catalog?: Partial<CatalogOptions>;
  /** Built-in JWT guard settings, or how to read the actor when the `guard` extra names a host guard. */
  auth?: Partial<AuthOptions> & HostAuthOptions;
  dump?: Partial<BackupManagerOptions['dump']>;
  queue?: Partial<BackupManagerOptions['queue']>;
  /** What `DELETE /cache` may clear; prefixes default to none. */
  cache?: Partial<CacheOptions>;
  /** Alerts: channels from configuration, public URL, de-duplication window, checks (see `NotificationOptions`). */
  notifications?: Partial<NotificationOptions>;
}

/** Options that shape the module itself, so they are known before any factory runs. */
export interface BackupManagerExtras {
  /** Make the module's exports (BackupsService, RestoresService, ...) visible app-wide. Default false. */
  isGlobal?: boolean;
  /** Mount the HTTP controllers. Default true. */
  controllers?: boolean;
  /** Mount the controllers under this path (below the app's global prefix), e.g. `backup-manager`. */
  routePrefix?: string;
  /**
   * The host authenticates the library's routes instead of the built-in JWT guard:
   * - `'global'`: the host's global guard (`APP_GUARD`) has set `req.user` before the library's
   *   routes run; the library runs no guard of its own.
   * - a guard class: run on the library's routes, and only when no global guard has set
   *   `req.user` already. It is instantiated in the module's context (its dependencies come from
   *   global modules or `imports`).
   * Either way, `auth.actorFromRequest` (or namespaced roles) maps the user to a library role,
   * and the library's role checks apply; an unmapped user gets 403.
   */
  guard?: Type<CanActivate> | 'global';
}

export const DEFAULT_EXTRAS: Required<Omit<BackupManagerExtras, 'routePrefix' | 'guard'>> & Pick<BackupManagerExtras, 'routePrefix' | 'guard'> = {
  isGlobal: false,
  controllers: true,
  routePrefix: undefined,
  guard: undefined,
};

/**
 * Fills in defaults and turns DataSource targets into connection details. Throws with every
 * problem at once, naming the option, so a host sees a clear start-up error.
 */
export async function resolveModuleOptions(input: BackupManagerModuleOptions, extras: BackupManagerExtras): Promise<BackupManagerOptions> {
  const problems: string[] = [];
  const dataDir = resolve(DEFAULTS.dataDir);
  // A DataSource that cannot be read leaves its slot as given, so later targets keep their index in errors.
  const unresolved = new Set<number>();
  const targets = await Promise.all(
    (input.targets ?? []).map(async (t, i) => {
      if (!('dataSource' in t && t.dataSource)) return t as TargetOptions;
      try {
        return await targetFromDataSource(t);
      } catch (err) {
        unresolved.add(i);
        problems.push(`targets[${i}]: ${(err as Error).message}`);
        return t as unknown as TargetOptions;
      }
    }),
  );
  const controllers = extras.controllers ?? true;
  const auth: AuthOptions = {
    jwtSecret: input.auth?.jwtSecret ?? '',
    devMode: input.auth?.devMode ?? false,
    issuer: input.auth?.issuer,
    audience: input.auth?.audience,
    failureLimit: input.auth?.failureLimit,
    failureWindowMs: input.auth?.failureWindowMs,
    forbiddenLimit: input.auth?.forbiddenLimit,
    maxTokenLifetimeMs: input.auth?.maxTokenLifetimeMs,
    sessionIdleMs: input.auth?.sessionIdleMs,
    sessionMaxMs: input.auth?.sessionMaxMs,
    loginMaxFailures: input.auth?.loginMaxFailures,
    loginLockoutMs: input.auth?.loginLockoutMs,
  };
  const hostAuth = input.auth as (HostAuthOptions & { defaultRole?: unknown }) | undefined;
  if (hostAuth?.defaultRole !== undefined) {
    problems.push(
      'auth.defaultRole is gone: no host user gets a library role by default. Map users with auth.actorFromRequest, or give them the roles backup:viewer, backup:operator or backup:admin',
    );
  }
  if (hostAuth?.actorFromRequest !== undefined && typeof hostAuth.actorFromRequest !== 'function') problems.push('auth.actorFromRequest must be a function (req) => ({ sub, role }) | undefined');
  if (hostAuth?.actorFromRequest && !extras.guard) problems.push("auth.actorFromRequest applies only with a host `guard` (a guard class, or 'global' for your APP_GUARD); pass one");
  if (extras.guard !== undefined && extras.guard !== 'global' && typeof extras.guard !== 'function') problems.push("guard must be a guard class or 'global'");
  if (controllers && !extras.guard && !auth.jwtSecret) {
    problems.push(`auth.jwtSecret (at least ${MIN_JWT_SECRET_LENGTH} characters) is required for the built-in JWT guard; or pass a host \`guard\`, or \`controllers: false\``);
  }
  // Inside a host nothing is planned behind its back: no default plans and no drills unless the
  // host lists them (the standalone service turns its env defaults into explicit options).
  const defaults = { ...defaultSchedulerOptions(), defaultPlans: [], drillCron: '' };
  const options: BackupManagerOptions = {
    ...input,
    targets,
    catalog: {
      url: input.catalog?.url,
      sqlitePath: input.catalog?.sqlitePath ?? join(dataDir, DEFAULTS.paths.catalog),
      migrationsRun: input.catalog?.migrationsRun ?? DEFAULTS.catalog.migrationsRun,
      tablePrefix: input.catalog?.tablePrefix ?? DEFAULTS.catalog.tablePrefix,
      dataSource: input.catalog?.dataSource,
      password: input.catalog?.password,
    },
    redisUrl: input.redisUrl ?? DEFAULTS.redisUrl,
    queuePrefix: input.queuePrefix ?? DEFAULTS.queuePrefix,
    storageDir: resolve(input.storageDir ?? join(dataDir, DEFAULTS.paths.storage)),
    tempDir: resolve(input.tempDir ?? join(dataDir, DEFAULTS.paths.temp)),
    auth,
    timezone: input.timezone ?? DEFAULTS.timezone,
    workers: input.workers ?? false,
    controllers,
    scheduler: input.scheduler ?? false,
    schedules: input.schedules ? { ...defaults, ...input.schedules, retention: { ...defaults.retention, ...input.schedules.retention } } : defaults,
    dump: { ...DEFAULTS.dump, ...input.dump },
    queue: { ...DEFAULTS.queue, ...input.queue },
    shutdownGraceMs: input.shutdownGraceMs ?? DEFAULTS.shutdownGraceMs,
    relayEvents: input.relayEvents ?? DEFAULTS.relayEvents,
    cache: input.cache ? { redisPrefixes: [], sessionPrefixes: [], ...input.cache } : undefined,
    encryption: input.encryption ? { ...DEFAULTS.encryption, ...input.encryption } : undefined,
    notifications: { ...defaultNotificationOptions(), ...input.notifications, channels: input.notifications?.channels ?? [] },
  };
  for (const p of validateOptions(options)) {
    if (!unresolved.has(Number(/^targets\[(\d+)\]/.exec(p.path)?.[1]))) problems.push(`${p.path} ${p.message}`);
  }
  if (problems.length) throw new Error(`BackupManagerModule: invalid options:\n  - ${problems.join('\n  - ')}`);
  return options;
}

type PgLikeOptions = {
  type: string;
  url?: string;
  host?: string;
  port?: number;
  username?: string;
  user?: string;
  password?: string | (() => string | Promise<string>);
  database?: string;
};

/** Connection details of a host DataSource (postgres, mysql or mariadb driver), read from its options. */
export async function targetFromDataSource(t: DataSourceTargetOptions): Promise<TargetOptions> {
  const o = t.dataSource.options as unknown as PgLikeOptions;
  const engine = o.type === 'postgres' ? 'postgres' : o.type === 'mysql' || o.type === 'mariadb' ? 'mysql' : undefined;
  if (!engine) throw new Error(`target "${t.name}": the DataSource uses the ${o.type} driver; only postgres, mysql and mariadb can be backed up`);
  const url = o.url ? new URL(o.url) : undefined;
  const password = typeof o.password === 'function' ? await o.password() : o.password ?? (url?.password ? decodeURIComponent(url.password) : undefined);
  const database = o.database ?? (url ? decodeURIComponent(url.pathname.replace(/^\//, '')) : '');
  if (!database) throw new Error(`target "${t.name}": the DataSource names no database`);
  return {
    name: t.name,
    engine,
    host: o.host ?? (url?.hostname || '127.0.0.1'),
    port: Number(o.port ?? (url?.port || (engine === 'postgres' ? 5432 : 3306))),
    user: o.username ?? o.user ?? (url?.username ? decodeURIComponent(url.username) : engine === 'postgres' ? 'postgres' : 'root'),
    database,
    password: password || undefined,
    coreTables: t.coreTables,
    restoreDatabases: t.restoreDatabases,
    storages: t.storages,
    ...(t.encrypt !== undefined ? { encrypt: t.encrypt } : {}),
  };
}
