import { ConfigurableModuleBuilder, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { AccountsModule } from './accounts/accounts.module.js';
import { AuditModule } from './audit/audit.module.js';
import { BackupModule } from './backup/backup.module.js';
import { CacheModule } from './cache/cache.module.js';
import { NotificationsModule } from './notifications/notifications.module.js';
import { RestoreModule } from './restore/restore.module.js';
import { SchedulerModule } from './scheduler/scheduler.module.js';
import { SystemInfoModule } from './system-info/system-info.module.js';
import { BackupManagerCoreModule } from './core.module.js';
import { DEFAULT_EXTRAS, resolveModuleOptions, type BackupManagerExtras, type BackupManagerModuleOptions } from './config/module-options.js';
import { BACKUP_MANAGER_OPTIONS } from './config/options.js';
import { TargetsModule } from './targets/targets.module.js';
import { LiveModule } from './web/live.module.js';

/** The options exactly as `forRoot()` got them or the `forRootAsync()` factory returned them. */
export const BACKUP_MANAGER_MODULE_OPTIONS = Symbol('BACKUP_MANAGER_MODULE_OPTIONS');

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- OPTIONS_TYPE and ASYNC_OPTIONS_TYPE exist only for `typeof` below
const { ConfigurableModuleClass, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } = new ConfigurableModuleBuilder<BackupManagerModuleOptions>({
  moduleName: 'BackupManager',
  optionsInjectionToken: BACKUP_MANAGER_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras<BackupManagerExtras>(DEFAULT_EXTRAS, (definition, extras) => compose(definition, extras, BACKUP_MANAGER_MODULE_OPTIONS))
  .build();

/** `BackupManagerModule.forRoot()` argument: module options plus extras (`controllers`, `guard`, `routePrefix`, ...). */
export type BackupManagerForRootOptions = typeof OPTIONS_TYPE;
/** `BackupManagerModule.forRootAsync()` argument: `imports`, `inject`, `useFactory` (or `useClass`) plus extras. */
export type BackupManagerAsyncOptions = typeof ASYNC_OPTIONS_TYPE;

/**
 * Everything backup-manager does, as one module for the standalone service or a host app:
 * `BackupManagerModule.forRoot(options)` or `forRootAsync({ imports, inject, useFactory })`.
 * Registers no global pipe, filter or guard; the library's controllers carry their own.
 */
@Module({})
export class BackupManagerModule extends ConfigurableModuleClass {}

/** The options exactly as the worker module's `forRoot()` got them or its factory returned them. */
export const BACKUP_MANAGER_WORKER_OPTIONS = Symbol('BACKUP_MANAGER_WORKER_OPTIONS');

/** Extras of `BackupManagerWorkerModule.forRoot()` / `forRootAsync()`. */
export interface BackupManagerWorkerExtras {
  /** Make the module's exports (BackupsService, RestoresService, ...) visible app-wide. Default false. */
  isGlobal?: boolean;
}

const worker = new ConfigurableModuleBuilder<BackupManagerModuleOptions>({
  moduleName: 'BackupManagerWorker',
  optionsInjectionToken: BACKUP_MANAGER_WORKER_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras<BackupManagerWorkerExtras>({ isGlobal: false }, (definition, extras) =>
    compose(definition, { isGlobal: extras.isGlobal, controllers: false }, BACKUP_MANAGER_WORKER_OPTIONS, (raw) => ({ ...raw, workers: raw.workers ?? true })),
  )
  .build();

/** `BackupManagerWorkerModule.forRoot()` argument: the same options as `BackupManagerModule`. */
export type BackupManagerWorkerForRootOptions = typeof worker.OPTIONS_TYPE;
/** `BackupManagerWorkerModule.forRootAsync()` argument: `imports`, `inject`, `useFactory` (or `useClass`). */
export type BackupManagerWorkerAsyncOptions = typeof worker.ASYNC_OPTIONS_TYPE;

/**
 * The job-running side of backup-manager for a host's own worker entry point (a Nest application
 * context without HTTP): the same options as `BackupManagerModule`, with `workers` on by default,
 * no controllers, and so no JWT secret or guard to configure. Like the main module it plans
 * nothing unless asked: `scheduler` is off, and no default plans or drills are created unless
 * `schedules` lists them. Needs the app's `EventEmitterModule.forRoot()` (and `ScheduleModule`
 * with `scheduler: true`); its events reach `@OnEvent` handlers in every process through Redis.
 */
@Module({})
export class BackupManagerWorkerModule extends worker.ConfigurableModuleClass {}

/** Feature modules whose controllers move under `routePrefix`. */
const FEATURE_MODULES = [AccountsModule, LiveModule, TargetsModule, BackupModule, RestoreModule, SchedulerModule, AuditModule, CacheModule, SystemInfoModule, NotificationsModule];

function compose(
  definition: DynamicModule,
  extras: BackupManagerExtras,
  rawToken: symbol,
  adapt: (raw: BackupManagerModuleOptions) => BackupManagerModuleOptions = (raw) => raw,
): DynamicModule {
  const controllers = extras.controllers ?? true;
  const resolved: Provider = {
    provide: BACKUP_MANAGER_OPTIONS,
    inject: [rawToken],
    useFactory: (raw: BackupManagerModuleOptions) => resolveModuleOptions(adapt(raw ?? {}), extras),
  };
  const routePrefix = extras.routePrefix?.replace(/^\/+|\/+$/g, '');
  return {
    module: definition.module,
    global: extras.isGlobal,
    imports: [
      // The option providers (and the modules their factory needs) live in the global core module,
      // so every feature module sees the resolved options.
      BackupManagerCoreModule.register({
        providers: [...(definition.providers ?? []), resolved],
        imports: definition.imports,
        guard: extras.guard,
        rawOptionsToken: rawToken,
      }),
      AccountsModule.register({ controllers: controllers && !extras.guard }),
      LiveModule.register({ controllers }),
      TargetsModule.register({ controllers }),
      BackupModule.register({ controllers }),
      RestoreModule.register({ controllers }),
      SchedulerModule.register({ controllers }),
      AuditModule.register({ controllers }),
      CacheModule.register({ controllers }),
      SystemInfoModule.register({ controllers }),
      NotificationsModule.register({ controllers }),
      ...(routePrefix && controllers ? [RouterModule.register([{ path: routePrefix, module: definition.module!, children: FEATURE_MODULES }])] : []),
    ],
    providers: [],
    exports: [BackupModule, RestoreModule, SchedulerModule, AuditModule, SystemInfoModule, NotificationsModule],
  };
}
