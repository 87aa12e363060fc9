import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
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
  /** `scheduleModule: false`: the host app already imports `ScheduleModule.forRoot()` (a second one would run its crons twice). */
  static register(opts: { controllers: boolean; scheduleModule?: boolean }): DynamicModule {
    return {
      module: SchedulerModule,
      imports: [CatalogModule, ...(opts.scheduleModule === false ? [] : [ScheduleModule.forRoot()])],
      controllers: opts.controllers ? [SchedulesController, RetentionController, SchedulerStatusController] : [],
      providers: [SchedulesService, RetentionService, ScheduleTicker],
      exports: [SchedulesService, RetentionService],
    };
  }
}
