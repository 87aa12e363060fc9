import { CreateSchedules1763800200000 } from './1763800200000-create-schedules.js';
import { ScheduleStorages1796316000000 } from './1796316000000-schedule-storages.js';

/** This module's catalog migrations (created in the 17638002xxxxx range; later changes by date). */
export const SCHEDULER_MIGRATIONS: Function[] = [CreateSchedules1763800200000, ScheduleStorages1796316000000];
