import { Module, type DynamicModule } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { AccountsModule } from '../accounts/accounts.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { BackupModule } from '../backup/backup.module.js';
import { REDIS } from '../common/redis.js';
import { BackupManagerCoreModule } from '../core.module.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { InProcessJobsQueue } from '../queue/in-process-jobs-queue.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { MemoryRedis } from '../queue/memory-redis.js';
import { RestoreModule } from '../restore/restore.module.js';
import { SchedulerModule } from '../scheduler/scheduler.module.js';

/**
 * The library without Redis, for `--inline` and for reading: catalog, storage, engines, backup,
 * restore, scheduler (services only) and audit modules, with the in-process job queue and an
 * in-memory stand-in for Redis. No HTTP, no scheduler, no BullMQ workers.
 */
@Module({})
export class InlineLibraryModule {
  static create(options: BackupManagerOptions): DynamicModule {
    return {
      module: InlineLibraryModule,
      imports: [
        BackupManagerCoreModule.register({
          providers: [{ provide: BACKUP_MANAGER_OPTIONS, useValue: { ...options, workers: false, scheduler: false, controllers: false, relayEvents: false } }],
          overrides: [
            { provide: REDIS, useFactory: () => new MemoryRedis().asRedis() },
            { provide: JobsQueue, useClass: InProcessJobsQueue },
          ],
        }),
        EventEmitterModule.forRoot({ wildcard: true, delimiter: '.' }),
        BackupModule.register({ controllers: false }),
        RestoreModule.register({ controllers: false }),
        SchedulerModule.register({ controllers: false }),
        AuditModule.register({ controllers: false }),
        AccountsModule.register({ controllers: false }),
      ],
    };
  }
}
