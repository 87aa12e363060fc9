import { Module, type DynamicModule } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { RetentionController } from './retention.controller.js';
import { RetentionService } from './retention.service.js';
import { ScheduleTicker } from './schedule-ticker.service.js';
import { SchedulerStatusController } from './scheduler-status.controller.js';
import { SchedulesController } from './schedules.controller.js';
import { SchedulesService } from './schedules.service.js';

/** Schedules (CRUD and ticks on every replica), retention policies, cleanup and pins. */
@Module({})
export class SchedulerModule {
  /**
   * Never imports `ScheduleModule.forRoot()`: the app does, once (a second instance would run the
   * host's own `@Cron` jobs twice). The ticker refuses to start without it when the scheduler is on.
   */
  static register(opts: { controllers: boolean }): DynamicModule {
    return {
      module: SchedulerModule,
      imports: [CatalogModule],
      controllers: opts.controllers ? [SchedulesController, RetentionController, SchedulerStatusController] : [],
      providers: [SchedulesService, RetentionService, ScheduleTicker],
      exports: [SchedulesService, RetentionService],
    };
  }
}
