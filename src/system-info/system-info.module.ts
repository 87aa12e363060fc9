import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CatalogModule } from '../catalog/catalog.module.js';
import { BackupMetrics } from './backup-metrics.service.js';
import { SystemController } from './system.controller.js';
import { SystemHealthService } from './system-health.service.js';
import { SystemInfoService } from './system-info.service.js';

/**
 * System information, health indicators and metrics. Global so an app (or host) can mount the
 * unauthenticated `/health/*` probes and `/metrics` with these services.
 */
@Module({})
export class SystemInfoModule {
  static register(opts: { controllers: boolean }): DynamicModule {
    return {
      module: SystemInfoModule,
      global: true,
      imports: [CatalogModule, TerminusModule.forRoot({ logger: false })],
      controllers: opts.controllers ? [SystemController] : [],
      providers: [SystemHealthService, SystemInfoService, BackupMetrics],
      exports: [SystemHealthService, SystemInfoService, BackupMetrics],
    };
  }
}
