import { ConfigurableModuleBuilder, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { AuditModule } from './audit/audit.module.js';
import { BackupModule } from './backup/backup.module.js';
import { CacheModule } from './cache/cache.module.js';
import { RestoreModule } from './restore/restore.module.js';
import { SchedulerModule } from './scheduler/scheduler.module.js';
import { SystemInfoModule } from './system-info/system-info.module.js';
import { BackupManagerCoreModule } from './core.module.js';
import { DEFAULT_EXTRAS, resolveModuleOptions, type BackupManagerExtras, type BackupManagerModuleOptions } from './config/module-options.js';
import { BACKUP_MANAGER_OPTIONS } from './config/options.js';
import { TargetsModule } from './targets/targets.module.js';

/** The options exactly as `forRoot()` got them or the `forRootAsync()` factory returned them. */
export const BACKUP_MANAGER_MODULE_OPTIONS = Symbol('BACKUP_MANAGER_MODULE_OPTIONS');

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- OPTIONS_TYPE and ASYNC_OPTIONS_TYPE exist only for `typeof` below
const { ConfigurableModuleClass, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } = new ConfigurableModuleBuilder<BackupManagerModuleOptions>({
  moduleName: 'BackupManager',
  optionsInjectionToken: BACKUP_MANAGER_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras<BackupManagerExtras>(DEFAULT_EXTRAS, (definition, extras) => compose(definition, extras))
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

/** Feature modules whose controllers move under `routePrefix`. */
const FEATURE_MODULES = [TargetsModule, BackupModule, RestoreModule, SchedulerModule, AuditModule, CacheModule, SystemInfoModule];

function compose(definition: DynamicModule, extras: BackupManagerExtras): DynamicModule {
  const controllers = extras.controllers ?? true;
  const resolved: Provider = {
    provide: BACKUP_MANAGER_OPTIONS,
    inject: [BACKUP_MANAGER_MODULE_OPTIONS],
    useFactory: (raw: BackupManagerModuleOptions) => resolveModuleOptions(raw, extras),
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
        rawOptionsToken: BACKUP_MANAGER_MODULE_OPTIONS,
      }),
      TargetsModule.register({ controllers }),
      BackupModule.register({ controllers }),
      RestoreModule.register({ controllers }),
      SchedulerModule.register({ controllers }),
      AuditModule.register({ controllers }),
      CacheModule.register({ controllers }),
      SystemInfoModule.register({ controllers }),
      ...(routePrefix && controllers ? [RouterModule.register([{ path: routePrefix, module: definition.module!, children: FEATURE_MODULES }])] : []),
    ],
    providers: [],
    exports: [BackupModule, RestoreModule, SchedulerModule, AuditModule, SystemInfoModule],
  };
}
