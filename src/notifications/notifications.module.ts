import { Module, type DynamicModule } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { AlertsService } from './alerts.service.js';
import { ChannelSender } from './channel-sender.js';
import { ChannelsService } from './channels.service.js';
import { DeliveriesService } from './deliveries.service.js';
import { DeliveryQueue } from './delivery-queue.js';
import { NotificationListener } from './notification-listener.js';
import { NotificationMonitor } from './notification-monitor.service.js';
import { NotificationsController } from './notifications.controller.js';

/**
 * Alerts by e-mail and webhooks: channels (API and configuration), the events they subscribe to,
 * de-duplicated conditions with "resolved" messages, periodic checks and digests, and deliveries
 * as jobs on a queue of their own with retries. Listens to domain events like the audit trail.
 */
@Module({})
export class NotificationsModule {
  static register(opts: { controllers: boolean }): DynamicModule {
    return {
      module: NotificationsModule,
      imports: [CatalogModule],
      controllers: opts.controllers ? [NotificationsController] : [],
      providers: [ChannelsService, ChannelSender, DeliveryQueue, DeliveriesService, AlertsService, NotificationListener, NotificationMonitor],
      exports: [ChannelsService, AlertsService, DeliveriesService],
    };
  }
}
