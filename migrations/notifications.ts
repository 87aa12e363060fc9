import { CreateNotifications1796200000000 } from './1796200000000-create-notifications.js';

/** This module's catalog migrations (timestamps in the 17962xxxxxxxx range). */
export const NOTIFICATION_MIGRATIONS: Function[] = [CreateNotifications1796200000000];
