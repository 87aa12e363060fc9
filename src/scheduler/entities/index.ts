import { Schedule } from './schedule.entity.js';

/** This module's catalog entities (added to the catalog DataSource). */
export const SCHEDULER_ENTITIES: Function[] = [Schedule];
