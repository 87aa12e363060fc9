import { CreateNotifications1766200000000 } from './1766200000000-create-notifications.js';

/** This module's catalog migrations (timestamps in the 17662xxxxxxxx range). */
export const NOTIFICATION_MIGRATIONS: Function[] = [CreateNotifications1766200000000];
