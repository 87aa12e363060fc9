import type { BackupRecord } from '../backup/entities/backup-record.entity.js';
import type { RestoreRun } from '../restore/entities/restore-run.entity.js';
import type { NotificationCondition } from './entities/notification-condition.entity.js';
import type { Notice } from './notice.js';

/**
 * The words of each message: what happened, to which target, the error, and what to do next.
 * `link` makes the record's URL from the configured public URL (none: the id only).
 */
export type Linker = (type: 'backup' | 'restore', id: string) => string | undefined;

const iso = (d: Date | null | undefined) => (d ?? new Date()).toISOString();

export function mib(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '—';
  if (bytes < 1024 * 1024) return `${bytes} B`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function duration(ms: number): string {
  if (ms < 59_500) return `${Math.max(1, Math.round(ms / 1000))} s`;
  const m = Math.round(ms / 60_000);
  if (m < 120) return `${m} min`;
  const h = Math.round(ms / 3600_000);
  return h < 72 ? `${h} h` : `${Math.round(h / 24)} days`;
}

function record(link: Linker, type: 'backup' | 'restore', id: string): Notice['record'] {
  const url = link(type, id);
  return { type, id, ...(url ? { url } : {}) };
}

export function backupFailed(r: BackupRecord, link: Linker): Notice {
  return {
    event: 'backup.failed',
    state: 'alert',
    severity: 'error',
    title: `backup of "${r.target}" failed`,
    summary: `The ${r.type} backup of target "${r.target}" failed${r.attempts > 1 ? ` after ${r.attempts} attempts` : ''}; no new copy of its data was made.`,
    target: r.target,
    at: iso(r.completedAt ?? r.updatedAt),
    error: r.errorMessage ?? 'no error message was recorded',
    next: `Read the error; check that the database of "${r.target}" is reachable with the configured credentials (GET /api/v1/targets), then run a backup again (POST /api/v1/backups with target "${r.target}"). Further failures within the de-duplication window send nothing; a completed backup sends "resolved".`,
    record: record(link, 'backup', r.id),
    facts: [['Triggered by', r.triggeredBy]],
  };
}

export function backupResolved(r: BackupRecord, c: NotificationCondition, link: Linker): Notice {
  return {
    event: 'backup.failed',
    state: 'resolved',
    severity: 'info',
    title: `backups of "${r.target}" work again`,
    summary: `A ${r.type} backup of target "${r.target}" completed after ${c.occurrences} failure(s) since ${c.firstAt.toISOString()}.`,
    target: r.target,
    at: iso(r.completedAt),
    record: record(link, 'backup', r.id),
    facts: [['Size', mib(r.sizeBytes)]],
  };
}

export function backupSucceeded(r: BackupRecord, link: Linker): Notice {
  return {
    event: 'backup.succeeded',
    state: 'info',
    severity: 'info',
    title: `backup of "${r.target}" completed`,
    summary: `The ${r.type} backup of target "${r.target}" completed.`,
    target: r.target,
    at: iso(r.completedAt),
    record: record(link, 'backup', r.id),
    facts: [
      ['Size', mib(r.sizeBytes)],
      ['Duration', r.durationMs !== null ? `${(r.durationMs / 1000).toFixed(1)} s` : '—'],
      ['Scope', r.scope],
    ],
  };
}

export function verificationFailed(r: BackupRecord, drill: boolean, reason: string | undefined, link: Linker): Notice {
  return drill
    ? {
        event: 'drill.failed',
        state: 'alert',
        severity: 'critical',
        title: `restore drill of "${r.target}" failed`,
        summary: `A restore drill of a backup of target "${r.target}" did not give back what was backed up: the backup is now CORRUPTED.`,
        target: r.target,
        at: iso(r.updatedAt),
        error: reason ?? r.errorMessage ?? undefined,
        next: `Do not count on this backup. Run a new backup of "${r.target}" now and drill it (POST /api/v1/backups/<id>/verify with drill: true); if drills keep failing, compare the restored tables with the source and check the dump settings.`,
        record: record(link, 'backup', r.id),
      }
    : {
        event: 'verification.corrupted',
        state: 'alert',
        severity: 'critical',
        title: `backup of "${r.target}" is CORRUPTED`,
        summary: `Verification found a backup of target "${r.target}" CORRUPTED: its stored file does not match what was written.`,
        target: r.target,
        at: iso(r.updatedAt),
        error: reason ?? r.errorMessage ?? undefined,
        next: `Do not restore from this backup. Run a new backup of "${r.target}" now (POST /api/v1/backups) and check the storage for disk or network errors.`,
        record: record(link, 'backup', r.id),
      };
}

export function verificationResolved(r: BackupRecord, drill: boolean, c: NotificationCondition, link: Linker): Notice {
  return {
    event: drill ? 'drill.failed' : 'verification.corrupted',
    state: 'resolved',
    severity: 'info',
    title: drill ? `restore drills of "${r.target}" pass again` : `backups of "${r.target}" verify again`,
    summary: `A backup of target "${r.target}" ${drill ? 'passed its restore drill' : 'was verified'} after ${c.occurrences} failure(s) since ${c.firstAt.toISOString()}.`,
    target: r.target,
    at: iso(r.verifiedAt ?? r.updatedAt),
    record: record(link, 'backup', r.id),
  };
}

export function restoreFinished(run: RestoreRun, ok: boolean, link: Linker): Notice {
  const into = `database "${run.database}"${run.intoOtherDatabase ? ' (not the target\'s own)' : ''}`;
  return ok
    ? {
        event: 'restore.completed',
        state: 'info',
        severity: 'warning',
        title: `restore of "${run.target}" completed`,
        summary: `Backup ${run.backupId} of target "${run.target}" was restored into ${into}.`,
        target: run.target,
        at: iso(run.completedAt),
        next: 'Check that the application works with the restored data.' + (run.safetyBackupId ? ` The data as it was before the restore is in backup ${run.safetyBackupId}.` : ''),
        record: record(link, 'restore', run.id),
        facts: [['Requested by', run.requestedBy]],
      }
    : {
        event: 'restore.failed',
        state: 'info',
        severity: 'error',
        title: `restore of "${run.target}" failed`,
        summary: `Restoring backup ${run.backupId} of target "${run.target}" into ${into} failed.`,
        target: run.target,
        at: iso(run.completedAt ?? run.updatedAt),
        error: run.errorMessage ?? undefined,
        next: `Read the error and the restore's record (GET /api/v1/restores/${run.id}) before trying again.` + (run.safetyBackupId ? ` The data as it was before the restore is in backup ${run.safetyBackupId}.` : ''),
        record: record(link, 'restore', run.id),
        facts: [['Requested by', run.requestedBy]],
      };
}

export function targetStale(target: string, newest: { id: string; at: Date } | null, maxAgeMs: number, since: Date, link: Linker, now = new Date()): Notice {
  const age = newest ? now.getTime() - newest.at.getTime() : now.getTime() - since.getTime();
  return {
    event: 'target.stale',
    state: 'alert',
    severity: 'error',
    title: `no recent backup of "${target}"`,
    summary: newest
      ? `The newest good backup of target "${target}" that holds its data is ${duration(age)} old; at most ${duration(maxAgeMs)} is allowed.`
      : `Target "${target}" has no good backup that holds its data, and has had none for ${duration(age)} (at most ${duration(maxAgeMs)} is allowed).`,
    target,
    at: now.toISOString(),
    next: `Check that a schedule of "${target}" is enabled (GET /api/v1/schedules), that the scheduler and a worker run (GET /api/v1/scheduler/status), and why recent backups failed (GET /api/v1/backups?target=${target}); run a backup now.`,
    ...(newest ? { record: record(link, 'backup', newest.id) } : {}),
    facts: [
      ['Newest good backup', newest ? newest.at.toISOString() : 'none'],
      ['Allowed age', duration(maxAgeMs)],
    ],
  };
}

export function targetFresh(target: string, newest: { id: string; at: Date }, c: NotificationCondition, link: Linker): Notice {
  return {
    event: 'target.stale',
    state: 'resolved',
    severity: 'info',
    title: `"${target}" has a recent backup again`,
    summary: `Target "${target}" has a good backup from ${newest.at.toISOString()}; it had none recent enough since ${c.firstAt.toISOString()}.`,
    target,
    at: new Date().toISOString(),
    record: record(link, 'backup', newest.id),
  };
}

export function storageLow(freeBytes: number, minFreeBytes: number, where: string): Notice {
  return {
    event: 'storage.low',
    state: 'alert',
    severity: 'warning',
    title: 'backup storage is running out of space',
    summary: `Only ${mib(freeBytes)} is free on the storage filesystem; at least ${mib(minFreeBytes)} should be (HEALTH_MIN_FREE_MB).`,
    at: new Date().toISOString(),
    next: 'Free space before backups fail: delete old backups or tighten retention (POST /api/v1/retention/cleanup), or grow the volume.',
    facts: [
      ['Free', mib(freeBytes)],
      ['Threshold', mib(minFreeBytes)],
      ['Storage', where],
    ],
  };
}

export function storageOk(freeBytes: number, c: NotificationCondition): Notice {
  return {
    event: 'storage.low',
    state: 'resolved',
    severity: 'info',
    title: 'backup storage has enough space again',
    summary: `${mib(freeBytes)} is free on the storage filesystem again (low since ${c.firstAt.toISOString()}).`,
    at: new Date().toISOString(),
  };
}

export function workerMissing(waiting: number, lastSeen: Date, now = new Date()): Notice {
  return {
    event: 'worker.missing',
    state: 'alert',
    severity: 'error',
    title: 'no worker is running jobs',
    summary: `${waiting} job(s) wait, and no worker has taken jobs from the queue for ${duration(now.getTime() - lastSeen.getTime())}: backups, restores and verifications do not run.`,
    at: now.toISOString(),
    next: 'Start a worker (APP_ROLE=worker, npm run start:worker, or the service with APP_ROLE=all) or find out why the workers stopped (their logs, Redis reachability).',
    facts: [['Jobs waiting', String(waiting)]],
  };
}

export function workerBack(c: NotificationCondition): Notice {
  return {
    event: 'worker.missing',
    state: 'resolved',
    severity: 'info',
    title: 'a worker is running jobs again',
    summary: `A worker consumes the job queue again (none was seen since about ${c.firstAt.toISOString()}).`,
    at: new Date().toISOString(),
  };
}

export function destinationFailed(r: BackupRecord, storage: string, error: string | undefined, link: Linker): Notice {
  return {
    event: 'destination.failed',
    state: 'alert',
    severity: 'error',
    title: `copy of a "${r.target}" backup to "${storage}" failed`,
    summary: `A backup of target "${r.target}" could not be written to the storage destination "${storage}"; other destinations may still hold it.`,
    target: r.target,
    at: new Date().toISOString(),
    error,
    next: `Check that destination "${storage}" is reachable and has room; the next backups retry it.`,
    record: record(link, 'backup', r.id),
    facts: [['Destination', storage]],
  };
}

export function destinationBack(r: BackupRecord, storage: string, c: NotificationCondition, link: Linker): Notice {
  return {
    event: 'destination.failed',
    state: 'resolved',
    severity: 'info',
    title: `copies of "${r.target}" to "${storage}" work again`,
    summary: `A backup of target "${r.target}" was written to "${storage}" again (failing since ${c.firstAt.toISOString()}).`,
    target: r.target,
    at: new Date().toISOString(),
    record: record(link, 'backup', r.id),
  };
}

export interface DigestRow {
  target: string;
  lastGood: { id: string; at: Date; sizeBytes: number | null } | null;
  completed: number;
  failed: number;
  /** The failure of the period decided last, with its reason. */
  lastFailure: { at: Date; error: string } | null;
  bytes: number;
}

export function digest(kind: 'daily' | 'weekly', from: Date, to: Date, rows: DigestRow[]): Notice {
  const failures = rows.reduce((a, r) => a + r.failed, 0);
  return {
    event: `digest.${kind}`,
    state: 'info',
    severity: failures ? 'warning' : 'info',
    title: `${kind} digest: ${rows.length} target(s), ${failures} failure(s)`,
    summary: `Backups from ${from.toISOString()} to ${to.toISOString()}.`,
    at: to.toISOString(),
    lines: rows.map(
      (r) =>
        `${r.target}: last good backup ${r.lastGood ? `${r.lastGood.at.toISOString()} (${mib(r.lastGood.sizeBytes)})` : 'none'}; ` +
        `${r.completed} completed (${mib(r.bytes)}), ${r.failed} failed in the period` +
        (r.lastFailure ? `, the latest at ${r.lastFailure.at.toISOString()}: ${r.lastFailure.error.slice(0, 300)}` : ''),
    ),
    ...(failures ? { next: 'Look at the failed backups (GET /api/v1/backups?status=FAILED, and ?status=CORRUPTED).' } : {}),
  };
}

export function testNotice(channelName: string): Notice {
  return {
    event: 'test',
    state: 'test',
    severity: 'info',
    title: `test message for channel "${channelName}"`,
    summary: `This is a test from backup-manager: channel "${channelName}" reaches you. Alerts will look like this.`,
    at: new Date().toISOString(),
    next: 'Nothing: this is only a test.',
  };
}
