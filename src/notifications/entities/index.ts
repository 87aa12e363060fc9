import { NotificationChannel } from './notification-channel.entity.js';
import { NotificationCondition } from './notification-condition.entity.js';
import { NotificationDelivery } from './notification-delivery.entity.js';

/** This module's catalog entities (added to the catalog DataSource). */
export const NOTIFICATION_ENTITIES: Function[] = [NotificationChannel, NotificationDelivery, NotificationCondition];
