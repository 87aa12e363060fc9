import type { Logger } from '@nestjs/common';
import type { Repository } from 'typeorm';
import { formatBytes } from '../common/format.js';
import type { JobContext } from '../queue/jobs.js';
import { BackupRecord, BackupStatus } from './entities/backup-record.entity.js';

/** Where a running backup stands, as the job progress, `metadata.progress` and the logs show it. */
export interface BackupProgressSnapshot {
  /** Bytes the dump client has produced so far, before compression. */
  rawBytes: number;
  /** Bytes of artifact written so far (after compression). */
  artifactBytes: number;
  /** The database size the dump is measured against (an estimate of `rawBytes` at the end). */
  estimateBytes: number | null;
  /** `rawBytes` against the estimate, 0–99 while running (a dump may outgrow its estimate). */
  percent: number | null;
  /** Average dump rate since the dump started, before compression. */
  bytesPerSecond: number;
  /** Seconds left at that rate; null without an estimate or once past it. */
  etaSeconds: number | null;
  elapsedMs: number;
  updatedAt: string;
}

export interface BackupProgressOptions {
  estimateBytes: number | null;
  /** Raw dump bytes so far (undefined: not known at this moment). */
  rawBytes: () => number | undefined;
  artifactBytes: () => number;
  /** Called about once a second (job progress: cheap, for the CLI's bar). */
  onSample: (p: BackupProgressSnapshot) => void;
  /** Called every `persistEveryMs` (the catalog record, for `GET /backups/:id`); awaited on stop. */
  persist: (p: BackupProgressSnapshot) => Promise<void>;
  /** A log line: every `logEveryMs` at info, every sample at debug. */
  log: (level: 'info' | 'debug', p: BackupProgressSnapshot, text: string) => void;
  sampleEveryMs?: number;
  persistEveryMs?: number;
  logEveryMs?: number;
  now?: () => number;
}

/**
 * Samples a running dump once a second and reports the same figures to the job, the catalog
 * record and the logs. Sampling reads counters only (a byte tap, or the compressor's read count
 * in /proc): nothing is added to the data path.
 */
export class BackupProgress {
  private readonly started: number;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private lastPersist = 0;
  private lastLog = 0;
  private lastRaw = 0;
  private persisting: Promise<void> = Promise.resolve();
  private estimateBytes: number | null;

  constructor(private readonly o: BackupProgressOptions) {
    this.now = o.now ?? Date.now;
    this.estimateBytes = o.estimateBytes;
    this.started = this.now();
    this.lastPersist = this.started;
    this.lastLog = this.started;
  }

  start(): this {
    this.timer = setInterval(() => this.tick(), this.o.sampleEveryMs ?? 1000);
    this.timer.unref();
    return this;
  }

  /** The estimate, once known (it is looked up while the dump already runs). */
  setEstimate(bytes: number | null): void {
    this.estimateBytes = bytes;
  }

  /** Stops sampling and waits for a catalog write still in flight (so nothing lands after it). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.persisting;
  }

  /** Takes one sample and reports it where its interval has come round. */
  tick(): BackupProgressSnapshot {
    const p = this.snapshot();
    const at = this.now();
    this.o.onSample(p);
    if (at - this.lastLog >= (this.o.logEveryMs ?? 5000)) {
      this.lastLog = at;
      this.o.log('info', p, describeProgress(p));
    } else {
      this.o.log('debug', p, describeProgress(p));
    }
    if (at - this.lastPersist >= (this.o.persistEveryMs ?? 2000)) {
      this.lastPersist = at;
      this.persisting = this.persisting.then(() => this.o.persist(p)).catch(() => undefined);
    }
    return p;
  }

  snapshot(): BackupProgressSnapshot {
    const raw = this.o.rawBytes();
    if (raw !== undefined) this.lastRaw = Math.max(this.lastRaw, raw);
    const elapsedMs = Math.max(0, this.now() - this.started);
    const rate = elapsedMs > 0 ? Math.round((this.lastRaw / elapsedMs) * 1000) : 0;
    const estimate = this.estimateBytes && this.estimateBytes > 0 ? this.estimateBytes : null;
    const percent = estimate ? Math.min(99, Math.floor((this.lastRaw / estimate) * 100)) : null;
    const left = estimate !== null ? estimate - this.lastRaw : 0;
    return {
      rawBytes: this.lastRaw,
      artifactBytes: this.o.artifactBytes(),
      estimateBytes: estimate,
      percent,
      bytesPerSecond: rate,
      etaSeconds: estimate !== null && rate > 0 && left > 0 ? Math.ceil(left / rate) : null,
      elapsedMs,
      updatedAt: new Date(this.now()).toISOString(),
    };
  }
}

/** `41% 120.3 MB of ~290.0 MB dumped (35.2 MB written), 45.2 MB/s, ETA 4 s`. */
export function describeProgress(p: BackupProgressSnapshot): string {
  const share = p.estimateBytes !== null ? `${p.percent}% ${formatBytes(p.rawBytes)} of ~${formatBytes(p.estimateBytes)}` : formatBytes(p.rawBytes);
  const eta = p.etaSeconds !== null ? `, ETA ${p.etaSeconds} s` : '';
  return `${share} dumped (${formatBytes(p.artifactBytes)} written), ${formatBytes(p.bytesPerSecond)}/s${eta}`;
}

/**
 * Starts reporting a running dump's progress once a second: to the job (the CLI's bar), to the
 * record's `metadata.progress` every 2 s (`GET /backups/:id` while RUNNING; written only while
 * this attempt owns the RUNNING record), and to the log (a line every 5 s at info, every second
 * at debug). `rawBytes` is the dump's output before compression, measured against the database
 * size; `artifactBytes` is the artifact bytes written so far. Stop it before the record
 * is written again.
 */
export function trackBackupProgress(o: {
  records: Repository<BackupRecord>;
  logger: Logger;
  record: BackupRecord;
  attempt: number;
  ctx: Pick<JobContext, 'updateProgress'>;
  /** The database's size, measured against once it resolves (a failure leaves no estimate). */
  estimateBytes: Promise<number>;
  rawBytes: () => number | undefined;
  /** Artifact bytes written so far. */
  written: () => number;
}): BackupProgress {
  const { record } = o;
  const base = { ...(record.metadata ?? {}) };
  const progress = new BackupProgress({
    estimateBytes: null,
    rawBytes: o.rawBytes,
    artifactBytes: o.written,
    onSample: (p) => void o.ctx.updateProgress({ ...p }),
    persist: async (p) => {
      await o.records.update({ id: record.id, attempts: o.attempt, status: BackupStatus.Running }, { metadata: { ...base, progress: p } as BackupRecord['metadata'] });
    },
    log: (level, p, text) => {
      const line = { msg: `backup progress: ${text}`, id: record.id, target: record.target, ...p };
      if (level === 'info') o.logger.log(line);
      else o.logger.debug(line);
    },
  });
  o.estimateBytes.then(
    (bytes) => progress.setEstimate(bytes),
    () => undefined,
  );
  return progress.start();
}
