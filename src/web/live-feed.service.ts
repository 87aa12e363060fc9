import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { EventEmitter2 } from '@nestjs/event-emitter';
import type { Response } from 'express';
import { BackupEvents } from '../backup/backup-events.js';
import { BackupsService } from '../backup/backups.service.js';
import { toBackupResponse } from '../backup/dto/backup-response.dto.js';
import { BackupStatus, type BackupRecord } from '../backup/entities/backup-record.entity.js';
import { isGood } from '../backup/good-backup.js';
import { ListBackupsQuery } from '../backup/dto/list-backups.dto.js';
import { APP_EVENTS } from '../common/app-events.js';
import { toRestoreRunResponse } from '../restore/dto/restore.dto.js';
import type { RestoreRun } from '../restore/entities/restore-run.entity.js';

/** How often running backups are read for their progress while someone listens. */
const POLL_MS = 1000;
const HEARTBEAT_MS = 15_000;
/** Most listeners at once (per API process); one more gets 503. */
export const MAX_LISTENERS = 200;

/**
 * Server-Sent Events for the dashboard: `backup` (a record whose status changed: queued, running,
 * completed, verified, failed, deleted, pinned), `restore` (a restore run) and `progress` (running
 * backups with bytes, rate and ETA, once a second). Status changes come from the domain events of
 * every process (relayed through Redis); progress is read from the catalog, where each worker
 * writes it, so it works whichever process runs the job.
 */
@Injectable()
export class LiveFeed implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('LiveFeed');
  private readonly listeners = new Set<Response>();
  private poller?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private polling = false;
  /** The last backup message being prepared (they are sent in order). */
  private sending: Promise<void> = Promise.resolve();
  /** Last progress sent per running backup, so an unchanged one is not sent again. */
  private lastProgress = new Map<string, string>();
  private readonly onEvent = (event: string | string[], payload: unknown) => {
    if (!this.listeners.size) return;
    const name = Array.isArray(event) ? event.join('.') : String(event);
    const p = payload as { record?: BackupRecord; run?: RestoreRun } | undefined;
    if (name.startsWith('backup.') && p?.record?.id) {
      const record = p.record;
      // A usable backup is sent with its copies, so a degraded one never shows as plainly
      // COMPLETED; sends stay in the order of the events.
      this.sending = this.sending.then(async () => {
        const copies = isGood(record) ? (await this.backups.copiesOf([record.id]).catch(() => undefined))?.get(record.id) : [];
        const backup = toBackupResponse(record, { copies });
        // NOTE: `backup.started` carries the record as it was read before the worker claimed it.
        if (name === BackupEvents.Started) backup.status = BackupStatus.Running;
        this.send('backup', { event: name, backup });
      }).catch((err: Error) => this.logger.warn(`could not send a backup event: ${err.message}`));
    }
    else if (name.startsWith('restore.') && p?.run?.id) this.send('restore', { event: name, restore: toRestoreRunResponse(p.run) });
  };

  constructor(
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    private readonly backups: BackupsService,
  ) {}

  onModuleInit(): void {
    this.events.onAny(this.onEvent);
  }

  onModuleDestroy(): void {
    this.events.offAny(this.onEvent);
    this.stop();
    for (const res of this.listeners) res.end();
    this.listeners.clear();
  }

  /** Starts a stream on `res`; it ends when the client goes. Returns false when too many listen already. */
  attach(res: Response): boolean {
    if (this.listeners.size >= MAX_LISTENERS) return false;
    res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    res.write('retry: 3000\n\n');
    this.listeners.add(res);
    res.on('close', () => {
      this.listeners.delete(res);
      if (!this.listeners.size) this.stop();
    });
    if (!this.poller) {
      this.poller = setInterval(() => void this.poll(), POLL_MS);
      this.poller.unref();
      this.heartbeat = setInterval(() => this.comment('keep-alive'), HEARTBEAT_MS);
      this.heartbeat.unref();
    }
    void this.poll();
    return true;
  }

  private stop(): void {
    clearInterval(this.poller);
    clearInterval(this.heartbeat);
    this.poller = this.heartbeat = undefined;
    this.lastProgress.clear();
  }

  private async poll(): Promise<void> {
    if (this.polling || !this.listeners.size) return;
    this.polling = true;
    try {
      const q = Object.assign(new ListBackupsQuery(), { status: BackupStatus.Running, limit: 50, page: 1 });
      const running = (await this.backups.list(q)).items;
      const seen = new Set<string>();
      for (const r of running) {
        seen.add(r.id);
        const progress = (r.metadata as { progress?: unknown } | null)?.progress;
        const key = JSON.stringify(progress ?? null);
        if (this.lastProgress.get(r.id) === key) continue;
        this.lastProgress.set(r.id, key);
        this.send('progress', { id: r.id, target: r.target, status: r.status, progress: progress ?? null });
      }
      for (const id of this.lastProgress.keys()) if (!seen.has(id)) this.lastProgress.delete(id);
    } catch (err) {
      this.logger.warn(`could not read running backups: ${(err as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  private send(event: string, data: unknown): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.listeners) res.write(text);
  }

  private comment(text: string): void {
    for (const res of this.listeners) res.write(`: ${text}\n\n`);
  }
}
