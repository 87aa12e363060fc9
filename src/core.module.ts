import { Module, type CanActivate, type DynamicModule, type ModuleMetadata, type Provider, type Type } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { AuthFailureLimiter } from './auth/auth-failure-limiter.js';
import { AuthGuard } from './auth/auth.guard.js';
import { actorFromUser, HOST_AUTH, HostAuth } from './auth/host-auth.js';
import { TokenVerifier } from './auth/token-verifier.js';
import { REDIS, RedisConnections, redisProviders } from './common/redis.js';
import { TargetLock } from './common/target-lock.js';
import { EnginesModule } from './engines/engines.module.js';
import { BullJobsQueue } from './queue/bullmq-jobs-queue.js';
import { JobsQueue } from './queue/jobs-queue.service.js';
import { JobsWorker } from './queue/jobs-worker.service.js';
import { QueueGate } from './queue/queue-gate.js';
import { LocalStorage } from './storage/local.storage.js';
import { ARTIFACT_STORAGE } from './storage/storage.interface.js';
import { TargetsService } from './targets/targets.service.js';
import { BACKUP_MANAGER_OPTIONS } from './config/options.js';
import type { BackupManagerModuleOptions } from './config/module-options.js';

const HOST_GUARD = Symbol('BACKUP_MANAGER_HOST_GUARD');

export interface CoreRegistration {
  /** Providers of `BACKUP_MANAGER_OPTIONS` (and of `rawOptionsToken`, when given). */
  providers: Provider[];
  /** Modules the option factories (and a host guard) need. */
  imports?: ModuleMetadata['imports'];
  /** A host guard that replaces the JWT check of the library's AuthGuard. */
  guard?: Type<CanActivate>;
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
    const hostAuth: Provider[] = r.guard
      ? [
          { provide: HOST_GUARD, useClass: r.guard },
          {
            provide: HOST_AUTH,
            inject: [HOST_GUARD, AuthFailureLimiter, ...(r.rawOptionsToken ? [r.rawOptionsToken] : [])],
            useFactory: (guard: CanActivate, limiter: AuthFailureLimiter, raw?: BackupManagerModuleOptions) =>
              new HostAuth(guard, raw?.auth?.actorFromRequest ?? actorFromUser(raw?.auth?.defaultRole), limiter),
          },
        ]
      : [];
    const providers: Provider[] = [
      ...r.providers,
      TargetsService,
      LocalStorage,
      { provide: ARTIFACT_STORAGE, useExisting: LocalStorage },
      ...redisProviders,
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
        TargetsService,
        ARTIFACT_STORAGE,
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
