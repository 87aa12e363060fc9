import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { pipeline } from 'node:stream/promises';
import type { Repository } from 'typeorm';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { ChecksumGate } from '../codecs/checksum-gate.js';
import { APP_EVENTS } from '../common/app-events.js';
import { EngineError } from '../common/errors.js';
import { logLine } from '../common/log-line.js';
import { BACKUP_MANAGER_OPTIONS, DEFAULTS, type BackupManagerOptions } from '../config/options.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { JobsWorker } from '../queue/jobs-worker.service.js';
import { JobName, PermanentJobError, type JobContext } from '../queue/jobs.js';
import { StorageRegistry } from '../storage/storage-registry.js';
import { manifestKey } from './artifact-name.js';
import { BackupCopies } from './backup-copies.service.js';
import { BackupEvents, type BackupEvent } from './backup-events.js';
import { CopyState, READABLE_COPY_STATES } from './entities/backup-copy.entity.js';
import { BackupRecord } from './entities/backup-record.entity.js';
import { isGood } from './good-backup.js';

/** Copy states a re-copy repairs. */
const BROKEN = [CopyState.Failed, CopyState.Missing, CopyState.Corrupted];
const SWEEP_MS = 10 * 60_000;

/**
 * Repairs destinations: copies a good backup from a destination that holds it (checked against
 * its SHA-256 while streaming, nothing kept in memory) into one whose copy failed, went missing or
 * was found corrupt. Queued when a backup's destination fails and, every ten minutes, for every
 * broken copy of a good backup (one job per copy and hour).
 *
 * The same timer aborts S3 multipart uploads older than `storage.abandonedUploadAgeMs` (left by
 * killed workers), in every destination that has such uploads.
 */
@Injectable()
export class BackupRecopier implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('BackupRecopier');
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly copies: BackupCopies,
    private readonly registry: StorageRegistry,
    private readonly worker: JobsWorker,
    private readonly queue: JobsQueue,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
  ) {}

  onModuleInit(): void {
    this.worker.register(JobName.Recopy, (data, ctx) => this.recopy(data.backupId, data.storage, ctx));
  }

  onApplicationBootstrap(): void {
    if (!this.options.workers) return;
    const tick = () => void this.sweep().catch((e: Error) => this.logger.warn(logLine('storage sweep failed', { error: e.message })));
    this.timer = setInterval(tick, SWEEP_MS);
    this.timer.unref();
    setImmediate(tick);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Aborts abandoned uploads and queues re-copies of broken copies. @returns what it did. */
  async sweep(): Promise<{ abortedUploads: number; recopies: number }> {
    const abortedUploads = await this.abortAbandonedUploads();
    let recopies = 0;
    const hour = Math.floor(Date.now() / 3_600_000);
    for (const c of await this.copies.inState(BROKEN)) {
      if (!this.registry.has(c.storage)) continue;
      const record = await this.records.findOne({ where: { id: c.backupId } });
      if (!record || !isGood(record)) continue;
      await this.queue.add(JobName.Recopy, { backupId: c.backupId, storage: c.storage }, `recopy-${c.backupId}-${c.storage}-${hour}`);
      recopies++;
    }
    return { abortedUploads, recopies };
  }

  /** Aborts, in every destination that has them, unfinished uploads older than the configured age. */
  async abortAbandonedUploads(): Promise<number> {
    const age = this.options.storage?.abandonedUploadAgeMs ?? DEFAULTS.storage.abandonedUploadAgeMs;
    let n = 0;
    for (const { name, backend } of this.registry.ordered()) {
      if (!backend.abortAbandonedUploads) continue;
      try {
        const aborted = await backend.abortAbandonedUploads(age);
        if (aborted) this.logger.warn(logLine('aborted abandoned multipart uploads', { storage: name, count: aborted }));
        n += aborted;
      } catch (err) {
        this.logger.warn(logLine('could not look for abandoned uploads', { storage: name, error: (err as Error).message }));
      }
    }
    return n;
  }

  /** Copies backup `id` into `storage` from a destination that holds a good copy. */
  async recopy(id: string, storage: string, ctx: Pick<JobContext, 'signal'>): Promise<{ copied: string; from: string } | { skipped: string }> {
    const record = await this.records.findOne({ where: { id } });
    if (!record || !isGood(record) || !record.fileKey || !record.checksum) return { skipped: 'the backup is gone or not good' };
    if (!this.registry.has(storage)) throw new PermanentJobError(`storage "${storage}" is not configured any more`);
    const copies = await this.copies.forBackup(id);
    const mine = copies.find((c) => c.storage === storage);
    const dest = this.registry.get(storage);
    if (mine && READABLE_COPY_STATES.includes(mine.state) && (await dest.stat(record.fileKey).catch(() => undefined))?.size === record.sizeBytes) {
      return { skipped: `storage "${storage}" holds the backup already` };
    }
    const fileKey = record.fileKey;
    const problems: string[] = [];
    for (const src of (await this.copies.sources(record)).filter((s) => s.storage !== storage)) {
      const st = await src.backend.stat(fileKey).catch(() => undefined);
      if (!st || (record.sizeBytes !== null && st.size !== record.sizeBytes)) {
        problems.push(`${src.storage}: ${st ? `${st.size} bytes, ${record.sizeBytes} expected` : 'missing'}`);
        continue;
      }
      // NOTE: the copy keeps its FAILED (or MISSING, CORRUPTED) state and reason until this succeeds.
      const writer = await dest.createWriter(fileKey, record.id);
      try {
        await pipeline([await src.backend.read(fileKey), new ChecksumGate(record.checksum), writer.stream] as unknown as NodeJS.ReadWriteStream[], { signal: ctx.signal });
        await writer.commit({ sha256: record.checksum });
        const manifest = await src.backend.readJson(manifestKey(fileKey));
        if (manifest) await dest.writeJson(manifestKey(fileKey), manifest, record.id);
      } catch (err) {
        await writer.abort();
        const message = (err as Error).message;
        problems.push(`${src.storage}: ${message}`);
        await this.copies.set(id, storage, { fileKey, state: CopyState.Failed, errorMessage: `re-copy from ${src.storage} failed: ${message}`.slice(0, 2000) });
        if (/checksum mismatch/.test(message)) continue;
        throw new EngineError(`re-copy of backup ${id} into "${storage}" failed: ${message}`, { retryable: true });
      }
      await this.copies.set(id, storage, { fileKey, state: CopyState.Stored, sizeBytes: record.sizeBytes, checksum: record.checksum, errorMessage: null });
      this.logger.log(logLine('re-copied a backup into a destination', { id, storage, from: src.storage }));
      this.events.emit(BackupEvents.CopyCompleted, { record, detail: { storage, from: src.storage } } satisfies BackupEvent);
      return { copied: storage, from: src.storage };
    }
    const why = problems.length ? problems.join('; ') : 'no other destination holds it';
    await this.copies.set(id, storage, { fileKey, state: CopyState.Failed, errorMessage: `re-copy found no good source: ${why}`.slice(0, 2000) });
    throw new EngineError(`re-copy of backup ${id} into "${storage}" found no good source (${why})`, { retryable: true });
  }
}
