import type { Actor } from '../auth/roles.js';
import type { Schedule } from './entities/schedule.entity.js';

/** Domain events of the scheduler module (through @nestjs/event-emitter); the audit module records them. */
export const SchedulerEvents = {
  ScheduleCreated: 'schedule.created',
  ScheduleUpdated: 'schedule.updated',
  ScheduleDeleted: 'schedule.deleted',
  ScheduleEnabled: 'schedule.enabled',
  ScheduleDisabled: 'schedule.disabled',
  /** Run now, through the API. */
  ScheduleTriggered: 'schedule.triggered',
  /** A tick started a backup. */
  ScheduleFired: 'schedule.fired',
  /** A tick could not start its backup. */
  ScheduleFailed: 'schedule.failed',
  RetentionCleanup: 'retention.cleanup',
} as const;

export interface ScheduleEvent {
  schedule: Schedule;
  actor?: Actor;
  detail?: Record<string, unknown>;
}
