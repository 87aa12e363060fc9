import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { BackupCopies } from '../backup/backup-copies.service.js';
import { BackupEvents, type BackupEvent } from '../backup/backup-events.js';
import { CopyState } from '../backup/entities/backup-copy.entity.js';
import { BackupStatus } from '../backup/entities/backup-record.entity.js';
import { APP_EVENTS } from '../common/app-events.js';
import { isRelayedEvent } from '../common/event-relay.js';
import { logLine } from '../common/log-line.js';
import { RestoreEvents, VerifyEvents, type RestoreEvent } from '../restore/restore-events.js';
import { AlertsService } from './alerts.service.js';
import * as m from './messages.js';

/**
 * Turns the library's domain events into alerts, like the audit trail records them: only in the
 * process where the event happened. An event relayed from another process (`isRelayedEvent`) is
 * ignored there, or every process would send the same alert.
 */
@Injectable()
export class NotificationListener implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Notifications');
  private readonly handlers: Array<[string, (payload: unknown) => Promise<unknown>]> = [
    [BackupEvents.Failed, (p) => this.backupFailed(p as BackupEvent)],
    [BackupEvents.Completed, (p) => this.backupCompleted(p as BackupEvent)],
    [VerifyEvents.Corrupted, (p) => this.verified(p as BackupEvent, false)],
    [VerifyEvents.Verified, (p) => this.verified(p as BackupEvent, true)],
    [RestoreEvents.Completed, (p) => this.restored(p as RestoreEvent, true)],
    [RestoreEvents.Failed, (p) => this.restored(p as RestoreEvent, false)],
    [BackupEvents.CopyFailed, (p) => this.copy(p as BackupEvent, false)],
    [BackupEvents.CopyCompleted, (p) => this.copy(p as BackupEvent, true)],
  ];
  private readonly bound = new Map<string, (payload: unknown) => void>();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    @Inject(APP_EVENTS) private readonly emitter: EventEmitter2,
    private readonly alerts: AlertsService,
    private readonly copies: BackupCopies,
  ) {}

  onModuleInit(): void {
    for (const [event, handle] of this.handlers) {
      const listener = (payload: unknown) => {
        if (isRelayedEvent(payload)) return;
        const p = handle(payload)
          .catch((err: Error) => this.logger.error(logLine('could not raise a notification', { event, error: err.message })))
          .finally(() => this.pending.delete(p));
        this.pending.add(p);
      };
      this.bound.set(event, listener);
      this.emitter.on(event, listener);
    }
  }

  onModuleDestroy(): void {
    for (const [event, listener] of this.bound) this.emitter.off(event, listener);
  }

  /** Resolves when the alerts of the events heard so far are decided and queued (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private async backupFailed(e: BackupEvent): Promise<void> {
    const r = e?.record;
    if (!r?.target || r.status === BackupStatus.Cancelled) return;
    await this.alerts.raise(`backup.failed:${r.target}`, m.backupFailed(r, this.alerts.link));
  }

  private async backupCompleted(e: BackupEvent): Promise<void> {
    const r = e?.record;
    if (!r?.target) return;
    await this.alerts.clear(`backup.failed:${r.target}`, (c) => m.backupResolved(r, c, this.alerts.link));
    // A destination that failed before and took this backup works again.
    for (const copy of await this.copies.forBackup(r.id)) {
      if (copy.state !== CopyState.Stored && copy.state !== CopyState.Verified) continue;
      await this.alerts.clear(destinationKey(r.target, copy.storage), (c) => m.destinationBack(r, copy.storage, c, this.alerts.link));
    }
    await this.alerts.inform(m.backupSucceeded(r, this.alerts.link));
  }

  private async verified(e: BackupEvent, ok: boolean): Promise<void> {
    const r = e?.record;
    if (!r?.target) return;
    const drill = e.detail?.kind === 'drill';
    const key = `${drill ? 'drill.failed' : 'verification.corrupted'}:${r.target}`;
    if (ok) await this.alerts.clear(key, (c) => m.verificationResolved(r, drill, c, this.alerts.link));
    else await this.alerts.raise(key, m.verificationFailed(r, drill, typeof e.detail?.reason === 'string' ? e.detail.reason : undefined, this.alerts.link));
  }

  private async restored(e: RestoreEvent, ok: boolean): Promise<void> {
    if (!e?.run?.target) return;
    await this.alerts.inform(m.restoreFinished(e.run, ok, this.alerts.link));
  }

  /** A destination of a backup failed (`{ record, detail: { storage, error } }`), or a re-copy put it there again. */
  private async copy(e: BackupEvent, ok: boolean): Promise<void> {
    const r = e?.record;
    const storage = typeof e?.detail?.storage === 'string' ? e.detail.storage : undefined;
    if (!r?.target || !storage) return;
    const key = destinationKey(r.target, storage);
    if (ok) await this.alerts.clear(key, (c) => m.destinationBack(r, storage, c, this.alerts.link));
    else await this.alerts.raise(key, m.destinationFailed(r, storage, typeof e.detail?.error === 'string' ? e.detail.error : undefined, this.alerts.link));
  }
}

/** The condition of one target's copies to one destination. */
function destinationKey(target: string, storage: string): string {
  return `destination.failed:${target}:${storage}`.slice(0, 160);
}
