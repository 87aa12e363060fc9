import { Module, type DynamicModule } from '@nestjs/common';
import { CronPreviewController } from './cron-preview.controller.js';
import { LiveEventsController } from './live-events.controller.js';
import { LiveFeed } from './live-feed.service.js';

/** The event stream behind the dashboard's live views (only where the HTTP API runs). */
@Module({})
export class LiveModule {
  static register(opts: { controllers: boolean }): DynamicModule {
    return {
      module: LiveModule,
      controllers: opts.controllers ? [LiveEventsController, CronPreviewController] : [],
      providers: opts.controllers ? [LiveFeed] : [],
    };
  }
}
