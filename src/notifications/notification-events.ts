/**
 * What a channel can subscribe to. Each key is one kind of thing worth telling someone about;
 * `byDefault` says whether a channel that names no `events` gets it.
 */
export const NOTIFICATION_EVENTS = {
  'backup.failed': { byDefault: true, description: 'A backup ended FAILED (after its retries). Resolved by the next completed backup of the target.' },
  'backup.succeeded': { byDefault: false, description: 'A backup completed. Off by default: one message per backup.' },
  'destination.failed': {
    byDefault: true,
    description: 'A copy of a backup to one storage destination failed while others hold it. Resolved when a later backup or a re-copy is written there.',
  },
  'verification.corrupted': { byDefault: true, description: "A backup's verification found it CORRUPTED. Resolved by the next verified backup of the target." },
  'drill.failed': {
    byDefault: true,
    description: 'A restore drill (restore into a throwaway database, row counts compared) failed. Resolved by the next passing drill of the target.',
  },
  'restore.completed': { byDefault: true, description: 'A restore finished: a database was replaced or created from a backup.' },
  'restore.failed': { byDefault: true, description: 'A restore failed.' },
  'target.stale': {
    byDefault: true,
    description:
      "No good backup holding the target's data is younger than its allowed age (BACKUP_MAX_AGE_HOURS, per target BACKUP_TARGET_<NAME>_MAX_AGE_HOURS); checked every NOTIFY_CHECK_INTERVAL_MS. Catches schedules that silently stopped. Resolved when a fresh backup exists.",
  },
  'storage.low': {
    byDefault: true,
    description: 'Free space on the storage filesystem is below HEALTH_MIN_FREE_MB. Resolved when it is above again.',
  },
  'worker.missing': {
    byDefault: true,
    description: 'Jobs wait but no worker has consumed the job queue for NOTIFY_WORKER_MISSING_MINUTES. Resolved when a worker is seen again.',
  },
  'digest.daily': { byDefault: false, description: 'Once a day (NOTIFY_DIGEST_DAILY_CRON): per target the last good backup and its size, the backups completed and failed that day, and the reason of the latest failure.' },
  'digest.weekly': { byDefault: false, description: 'Once a week (NOTIFY_DIGEST_WEEKLY_CRON): the same over seven days.' },
} as const;

export type NotificationEvent = keyof typeof NOTIFICATION_EVENTS;

export const NOTIFICATION_EVENT_KEYS = Object.keys(NOTIFICATION_EVENTS) as NotificationEvent[];

/** The events a channel gets when it names none. */
export const DEFAULT_EVENTS: NotificationEvent[] = NOTIFICATION_EVENT_KEYS.filter((k) => NOTIFICATION_EVENTS[k].byDefault);

export function isNotificationEvent(v: unknown): v is NotificationEvent {
  return typeof v === 'string' && Object.hasOwn(NOTIFICATION_EVENTS, v);
}

/**
 * Events the module emits on the app's emitter (in the process where the condition was decided),
 * for host code that wants the same alerts in-process: payload `{ notice }`.
 */
export const AlertEvents = {
  Raised: 'alert.raised',
  Resolved: 'alert.resolved',
} as const;
