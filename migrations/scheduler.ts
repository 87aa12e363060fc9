import { CreateSchedules1763800200000 } from './1763800200000-create-schedules.js';

/** This module's catalog migrations (timestamps in the 17638002xxxxx range). */
export const SCHEDULER_MIGRATIONS: Function[] = [CreateSchedules1763800200000];
