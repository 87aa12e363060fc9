import { Module, type CanActivate, type DynamicModule, type ModuleMetadata, type Provider, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { JwtModule } from '@nestjs/jwt';
import { AuthFailureLimiter } from './auth/auth-failure-limiter.js';
import { AuthGuard } from './auth/auth.guard.js';
import { actorFromNamespacedRoles, DEFAULT_ROLE_PREFIX, HOST_AUTH, HostAuth } from './auth/host-auth.js';
import { TokenVerifier } from './auth/token-verifier.js';
import { APP_EVENTS, appEvents } from './common/app-events.js';
import { EventRelay } from './common/event-relay.js';
import { REDIS, RedisConnections, redisProviders } from './common/redis.js';
import { TargetLock } from './common/target-lock.js';
import { EnginesModule } from './engines/engines.module.js';
import { BullJobsQueue } from './queue/bullmq-jobs-queue.js';
import { JobsQueue } from './queue/jobs-queue.service.js';
import { JobsWorker } from './queue/jobs-worker.service.js';
import { QueueGate } from './queue/queue-gate.js';
import { DestinationsStorage } from './storage/destinations.storage.js';
import { StorageRegistry } from './storage/storage-registry.js';
import { ARTIFACT_STORAGE } from './storage/storage.interface.js';
import { TargetsService } from './targets/targets.service.js';
import { EncryptionKeys } from './codecs/encryption-keys.js';
import { BACKUP_MANAGER_OPTIONS } from './config/options.js';
import type { BackupManagerModuleOptions } from './config/module-options.js';

export interface CoreRegistration {
  /** Providers of `BACKUP_MANAGER_OPTIONS` (and of `rawOptionsToken`, when given). */
  providers: Provider[];
  /** Modules the option factories (and a host guard) need. */
  imports?: ModuleMetadata['imports'];
  /** The host authenticates instead of the library's JWT check (see the `guard` extra). */
  guard?: Type<CanActivate> | 'global';
  /** Token of the options as the caller passed them (for the host-auth settings). */
  rawOptionsToken?: string | symbol;
  /** Replacements of core providers by token (the in-process queue and Redis stand-in of `--inline`). */
  overrides?: Provider[];
}

/**
 * Shared plumbing every feature module uses: options, targets, storage, queue, engines, auth.
 * Global inside the library so feature modules see it; every token is the library's own.
 */
@Module({})
export class BackupManagerCoreModule {
  static register(r: CoreRegistration): DynamicModule {
    const guard = r.guard;
    const hostAuth: Provider[] = guard
      ? [
          {
            provide: HOST_AUTH,
            inject: [ModuleRef, AuthFailureLimiter, ...(r.rawOptionsToken ? [r.rawOptionsToken] : [])],
            useFactory: async (moduleRef: ModuleRef, limiter: AuthFailureLimiter, raw?: BackupManagerModuleOptions) => {
              const custom = raw?.auth?.actorFromRequest;
              const prefix = raw?.auth?.rolePrefix ?? DEFAULT_ROLE_PREFIX;
              const mapping = custom ? 'through auth.actorFromRequest' : `the role ${prefix}viewer, ${prefix}operator or ${prefix}admin`;
              return new HostAuth(guard === 'global' ? undefined : await hostGuard(moduleRef, guard), custom ?? actorFromNamespacedRoles(prefix), limiter, mapping);
            },
          },
        ]
      : [];
    const providers: Provider[] = [
      { provide: APP_EVENTS, inject: [{ token: EventEmitter2, optional: true }], useFactory: appEvents },
      ...r.providers,
      TargetsService,
      EncryptionKeys,
      StorageRegistry,
      DestinationsStorage,
      { provide: ARTIFACT_STORAGE, useExisting: DestinationsStorage },
      ...redisProviders,
      EventRelay,
      { provide: JobsQueue, useClass: BullJobsQueue },
      JobsWorker,
      QueueGate,
      TokenVerifier,
      AuthFailureLimiter,
      AuthGuard,
      ...hostAuth,
      ...(r.overrides ?? []),
    ];
    return {
      module: BackupManagerCoreModule,
      global: true,
      // JwtModule is imported, not exported: a host's own JwtService stays the host's.
      imports: [...(r.imports ?? []), JwtModule.register({}), EnginesModule],
      providers,
      exports: [
        BACKUP_MANAGER_OPTIONS,
        APP_EVENTS,
        TargetsService,
        EncryptionKeys,
        ARTIFACT_STORAGE,
        StorageRegistry,
        DestinationsStorage,
        RedisConnections,
        REDIS,
        TargetLock,
        JobsQueue,
        JobsWorker,
        QueueGate,
        TokenVerifier,
        AuthFailureLimiter,
        AuthGuard,
        EnginesModule,
        ...(r.guard ? [HOST_AUTH] : []),
      ],
    };
  }
}

/** The host's own instance of its guard when it is a provider the library can see, else one built for the library. */
async function hostGuard(moduleRef: ModuleRef, guard: Type<CanActivate>): Promise<CanActivate> {
  try {
    return moduleRef.get(guard, { strict: false });
  } catch {
    return moduleRef.create(guard);
  }
}
