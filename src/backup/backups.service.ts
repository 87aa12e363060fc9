import { Inject, Injectable, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Repository } from 'typeorm';
import type { Actor } from '../auth/roles.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { DomainError, EngineError, ErrorCode, invalid } from '../common/errors.js';
import { findByIdOrPrefix } from '../common/ids.js';
import { redact } from '../common/redact.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions, type Compression, type TargetOptions } from '../config/options.js';
import type { BackupScopeKind, DumpFormat } from '../engines/engine.interface.js';
import { EnginesService } from '../engines/engines.service.js';
import { canonicalTableName, TableNameError } from '../engines/table-names.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { JobName, type JobContext } from '../queue/jobs.js';
import { QueueGate } from '../queue/queue-gate.js';
import { StorageRegistry } from '../storage/storage-registry.js';
import { ARTIFACT_STORAGE, type ArtifactStorage } from '../storage/storage.interface.js';
import { BackupCopies } from './backup-copies.service.js';
import type { BackupCopy } from './entities/backup-copy.entity.js';
import { TargetsService } from '../targets/targets.service.js';
import { EncryptionKeys } from '../codecs/encryption-keys.js';
import { manifestKey } from './artifact-name.js';
import { BackupEvents, type BackupEvent } from './backup-events.js';
import { BackupRunner } from './backup-runner.service.js';
import { BackupRecord, BackupStatus, BackupType } from './entities/backup-record.entity.js';
import { findNewestGood, isGood } from './good-backup.js';
import { discardLeftovers } from './leftovers.js';
import { deleteSettled } from './bulk-delete.js';
import type { ListBackupsQuery } from './dto/list-backups.dto.js';
import { listBackups, type BackupList } from './backup-list.js';
import { BackupTotal } from './entities/backup-total.entity.js';

/** What a caller (HTTP, CLI, scheduler or host code) asks for. */
export interface BackupRequest {
  target: string;
  type?: BackupType;
  description?: string;
  compression?: Compression;
  retentionDays?: number;
  scope?: BackupScopeKind;
  tables?: string[];
  includeSchema?: boolean;
  includeData?: boolean;
  format?: DumpFormat;
  /** Destinations (`GET /storages`); default: the target's, else the configured defaults (a schedule passes its own). */
  storages?: string[];
  /** Encrypt the artifact (age); default: the schedule's, else the target's, else `encryption.encryptByDefault`. */
  encrypt?: boolean;
  /** `user:<sub>`, `schedule:<name>`, `cli`, `host`, ... */
  triggeredBy?: string;
  metadata?: Record<string, unknown>;
  /**
   * Default true: while an identical backup (same target, type, scope, tables, schema/data
   * switches, format and compression) is QUEUED, return that one instead of queueing another.
   * false: always a new record (the CLI's `--inline` run, which runs its own record at once).
   */
  reuseQueued?: boolean;
}

/** What `submit` did: a new QUEUED record (`created`), or an identical one already QUEUED. */
export interface BackupSubmission {
  record: BackupRecord;
  created: boolean;
}

const ACTIVE = [BackupStatus.Queued, BackupStatus.Running];

/** What makes two backup requests the same backup. */
interface BackupSpec {
  target: string;
  type: BackupType;
  scope: BackupScopeKind;
  tables: string[] | null;
  includeSchema: boolean;
  includeData: boolean;
  format: DumpFormat;
  compression: Compression;
  encrypted: boolean;
}

/** The backup catalog's façade: request, list, read, download, delete. */
@Injectable()
export class BackupsService {

  constructor(
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    @InjectRepository(BackupTotal, CATALOG_CONNECTION) private readonly totals: Repository<BackupTotal>,
    @Inject(ARTIFACT_STORAGE) private readonly storage: ArtifactStorage,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly targets: TargetsService,
    private readonly queue: JobsQueue,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    private readonly engines: EnginesService,
    private readonly runner: BackupRunner,
    private readonly gate: QueueGate,
    private readonly keys: EncryptionKeys,
    @Optional() private readonly registry?: StorageRegistry,
    @Optional() private readonly copies?: BackupCopies,
  ) {}

  /** The destinations' copies of these backups, by backup id. */
  async copiesOf(ids: string[]): Promise<Map<string, BackupCopy[]>> {
    return this.copies ? this.copies.forBackups(ids) : new Map();
  }

  /**
   * A full backup taken inline for a restore that already holds the database's lock: of the
   * target's own database, or of `opts.database` on its server. Resolves with the COMPLETED
   * record; rejects with the reason when the backup failed.
   */
  safetyBackup(targetName: string, restoreRunId: string, ctx: JobContext, opts: { database?: string; tables?: string[] | null } = {}): Promise<BackupRecord | null> {
    return this.runner.safetyBackup(targetName, restoreRunId, ctx, opts);
  }

  /**
   * Records a QUEUED backup and enqueues its job, or returns the identical backup already QUEUED
   * (see `submit`). Resolves once the job is in Redis.
   */
  async request(req: BackupRequest, actor?: Actor): Promise<BackupRecord> {
    return (await this.submit(req, actor)).record;
  }

  /**
   * Like `request`, and says whether the record is new. Identical requests are serialised (across
   * processes), so concurrent ones yield one record.
   * @throws BAD_REQUEST / NOT_FOUND for a bad request; QUEUE_FULL (429, Retry-After) when
   * `queue.maxWaiting` jobs wait; nothing is recorded then.
   */
  async submit(req: BackupRequest, actor?: Actor): Promise<BackupSubmission> {
    const target = this.targets.get(req.target);
    const what = await this.resolveScope(target, req);
    const spec = {
      target: target.name,
      type: req.type ?? BackupType.Manual,
      ...what,
      compression: req.compression ?? this.options.dump.defaultCompression,
      encrypted: this.encryptionOf(target, req),
    };
    const storages = this.registry?.resolve(req.storages?.length ? req.storages : target.storages);
    if (storages) req = { ...req, metadata: { ...(req.metadata ?? {}), storages } };
    if (req.reuseQueued === false) {
      await this.gate.assertRoom('backup');
      return { record: await this.enqueue(spec, req, actor), created: true };
    }
    const key = JSON.stringify({ kind: 'backup', ...spec, tables: spec.tables ? [...spec.tables].sort() : null, storages });
    return this.gate.exclusive(key, async () => {
      const same = await this.queuedLike(spec, storages);
      if (same) return { record: same, created: false };
      await this.gate.assertRoom('backup');
      return { record: await this.enqueue(spec, req, actor), created: true };
    });
  }

  /**
   * Whether the backup is encrypted: the request's `encrypt`, else the target's, else the global
   * default. @throws 400 when it is to be encrypted and this process has nothing to encrypt to.
   */
  private encryptionOf(target: TargetOptions, req: BackupRequest): boolean {
    const encrypted = req.encrypt ?? target.encrypt ?? this.keys.encryptByDefault();
    if (encrypted && !this.keys.canEncrypt()) {
      const why = req.encrypt ? 'encrypt is true' : `target "${target.name}" encrypts its backups`;
      throw invalid(`${why}, but no BACKUP_ENCRYPTION_RECIPIENTS (age1… public keys, safe to set on API processes too) or BACKUP_ENCRYPTION_PASSPHRASE_FILE is configured; set one, or send encrypt: false`);
    }
    return encrypted;
  }

  /**
   * The oldest QUEUED (not deleted) backup of exactly this spec, if any. NOTE: the catalog is asked
   * for the QUEUED records alone (a seek in the status index: as many as wait in the queue) and
   * the spec is matched here. With the spec's columns in the query too, SQLite (no statistics)
   * walked the index of one of them instead, e.g. every `daily` record: 40 ms a request at 100k.
   */
  private async queuedLike(spec: BackupSpec, storages?: string[]): Promise<BackupRecord | null> {
    const { tables, ...columns } = spec;
    const queued = await this.records.find({ where: { status: BackupStatus.Queued }, order: { createdAt: 'ASC', id: 'ASC' } });
    const sorted = (t: string[] | null) => JSON.stringify(t ? [...t].sort() : null);
    const same = (r: BackupRecord) =>
      (Object.keys(columns) as Array<keyof typeof columns>).every((k) => r[k] === columns[k]) &&
      sorted(r.tables) === sorted(tables) &&
      sorted(r.metadata?.storages ?? null) === sorted(storages ?? null);
    return queued.find(same) ?? null;
  }

  private async enqueue(spec: BackupSpec, req: BackupRequest, actor?: Actor): Promise<BackupRecord> {
    const now = new Date();
    const record = this.records.create({
      id: randomUUID(),
      ...spec,
      status: BackupStatus.Queued,
      engine: this.targets.get(spec.target).engine,
      fileKey: null,
      triggeredBy: req.triggeredBy ?? (actor ? `user:${actor.sub}` : 'system'),
      description: req.description ?? null,
      retentionDays: req.retentionDays ?? null,
      expiresAt: req.retentionDays ? new Date(now.getTime() + req.retentionDays * 86_400_000) : null,
      pinned: false,
      attempts: 0,
      metadata: req.metadata ?? null,
    });
    await this.records.insert(record);
    try {
      await this.queue.add(JobName.Backup, { recordId: record.id }, record.id);
    } catch (err) {
      await this.records.update(record.id, {
        status: BackupStatus.Failed,
        errorMessage: `Could not enqueue the job: ${(err as Error).message}`,
        completedAt: new Date(),
      });
      throw new DomainError(ErrorCode.QueueUnavailable, 'The job queue (Redis) is unavailable; the backup was not started');
    }
    const saved = await this.records.findOneByOrFail({ id: record.id });
    this.events.emit(BackupEvents.Requested, { record: saved, actor } satisfies BackupEvent);
    return saved;
  }

  /**
   * Checks and normalises what a request asks to dump: scope, tables (read in any accepted
   * spelling, recorded in the canonical form of `engines/table-names.ts` and checked against the
   * target's real table list, before anything is enqueued), schema/data switches and format.
   * @throws VALIDATION_FAILED naming the problem (unknown tables are listed by name).
   */
  async resolveScope(target: TargetOptions, req: BackupRequest): Promise<{ scope: BackupScopeKind; tables: string[] | null; includeSchema: boolean; includeData: boolean; format: DumpFormat }> {
    const includeSchema = req.includeSchema ?? true;
    const includeData = req.includeData ?? true;
    if (!includeSchema && !includeData) {
      throw invalid('includeSchema and includeData cannot both be false: the backup would hold nothing');
    }
    const defaultFormat: DumpFormat = target.engine === 'postgres' ? (this.options.dump.pgFormat ?? 'custom') : 'plain';
    const format = req.format ?? defaultFormat;
    if (format !== 'plain' && format !== 'custom') throw invalid('format must be one of: plain, custom');
    if (format === 'custom' && target.engine !== 'postgres') {
      throw invalid(`format "custom" is for PostgreSQL targets; target "${target.name}" is ${target.engine} (use "plain")`);
    }
    const scope = req.scope ?? 'full';
    let tables: string[];
    switch (scope) {
      case 'full':
        if (req.tables?.length) throw invalid('tables is only used with scope "selective"; set scope to "selective" or drop tables');
        return { scope, tables: null, includeSchema, includeData, format };
      case 'partial':
        if (req.tables?.length) throw invalid('scope "partial" backs up the configured core tables; use scope "selective" to name tables');
        tables = target.coreTables ?? [];
        if (!tables.length) {
          throw invalid(`scope "partial" needs core tables, and target "${target.name}" has none: set BACKUP_TARGET_${target.name.toUpperCase()}_CORE_TABLES (comma-separated table names)`);
        }
        break;
      case 'selective':
        tables = req.tables ?? [];
        if (!Array.isArray(tables) || !tables.length) throw invalid('scope "selective" needs a non-empty tables list');
        break;
      default:
        throw invalid('scope must be one of: full, partial, selective');
    }
    const bad = tables.find((t) => typeof t !== 'string' || !t || t.includes('\0'));
    if (bad !== undefined) throw invalid('tables: every name must be a non-empty string without NUL characters');
    const where = scope === 'partial' ? ` (check BACKUP_TARGET_${target.name.toUpperCase()}_CORE_TABLES)` : '';
    // One canonical text per table, whichever accepted spelling asked for it (table-names.ts).
    const asked = new Map<string, string>();
    for (const t of tables) {
      let name: string;
      try {
        name = canonicalTableName(target.engine, t);
      } catch (err) {
        if (err instanceof TableNameError) throw invalid(`${err.message.slice(0, 400)}${where}; GET /api/v1/targets/${target.name}/tables lists the names`);
        throw err;
      }
      if (!asked.has(name)) asked.set(name, t);
    }
    const known = new Set((await this.tablesOf(target)).map((t) => t.name));
    const unknown = [...asked].filter(([name]) => !known.has(name)).map(([, t]) => t);
    if (unknown.length) {
      const list = unknown.slice(0, 20).map((t) => JSON.stringify(t.slice(0, 128))).join(', ');
      const dotted = target.engine === 'postgres' && unknown.some((t) => t.includes('.') && !t.includes('"'));
      const hint = dotted ? ' (a dot separates schema and table: quote a name that holds a dot, e.g. "a.b" or s."a.b")' : '';
      throw invalid(`Unknown table${unknown.length > 1 ? 's' : ''} in target "${target.name}": ${list}${hint}${where}; GET /api/v1/targets/${target.name}/tables lists them`);
    }
    tables = [...asked.keys()];
    return { scope, tables, includeSchema, includeData, format };
  }

  private async tablesOf(target: TargetOptions) {
    const resolved = await this.targets.resolve(target.name);
    try {
      return await this.engines.for(target.engine).listTables(resolved);
    } catch (err) {
      const msg = redact((err as Error).message, this.targets.secretsOf(resolved));
      const why = err instanceof EngineError && !err.retryable ? 'check the target\'s configuration' : 'try again later';
      throw new DomainError(ErrorCode.TargetUnreachable, `Could not read the tables of target "${target.name}" to check the request (${why}): ${msg}`);
    }
  }

  /** One page of backups, newest first, by cursor or page number (see `listBackups`). */
  list(q: ListBackupsQuery): Promise<BackupList> {
    return listBackups({ records: this.records, totals: this.totals }, q);
  }

  /**
   * By full id or by an unambiguous prefix of 8 or more characters (the short ids the CLI prints).
   * @throws BACKUP_NOT_FOUND for unknown or malformed ids; AMBIGUOUS_ID for a prefix of several.
   */
  get(id: string, opts: { withDeleted?: boolean } = {}): Promise<BackupRecord> {
    return findByIdOrPrefix(this.records, id, 'Backup', ErrorCode.BackupNotFound, opts);
  }

  async fileExists(record: BackupRecord): Promise<boolean> {
    if (!record.fileKey) return false;
    if (!this.copies) return !!(await this.storage.stat(record.fileKey));
    for (const src of await this.copies.sources(record)) if (await src.backend.stat(record.fileKey).catch(() => undefined)) return true;
    return false;
  }

  /**
   * Opens the artifact for download from the first destination that holds it whole (the record's
   * size), falling back to the next; the caller checks the checksum while streaming.
   */
  async openArtifact(idOrPrefix: string, actor?: Actor): Promise<{ record: BackupRecord; stream: Readable; size: number }> {
    const record = await this.get(idOrPrefix);
    const id = record.id;
    if (!isGood(record) || !record.fileKey) {
      throw new DomainError(ErrorCode.BackupNotReady, `Backup ${id} is ${record.status}; only COMPLETED or VERIFIED backups can be downloaded`);
    }
    const sources = this.copies ? await this.copies.sources(record) : [{ storage: 'storage', backend: this.storage }];
    const tried: string[] = [];
    for (const src of sources) {
      const st = await src.backend.stat(record.fileKey).catch((err: Error) => err);
      if (st instanceof Error || !st || (record.sizeBytes !== null && st.size !== record.sizeBytes)) {
        tried.push(`${src.storage}: ${st instanceof Error ? st.message : st ? `${st.size} bytes, ${record.sizeBytes} expected` : 'missing'}`);
        continue;
      }
      const stream = await src.backend.read(record.fileKey);
      this.events.emit(BackupEvents.Downloaded, { record, actor, detail: { storage: src.storage } } satisfies BackupEvent);
      return { record, stream, size: st.size };
    }
    throw new DomainError(ErrorCode.ArtifactMissing, `The artifact of backup ${id} is missing from storage${tried.length ? ` (${tried.join('; ')})` : ''}`);
  }

  /** Pins or unpins a backup: a pinned backup is never deleted, by retention or by hand. */
  async setPinned(idOrPrefix: string, pinned: boolean, actor?: Actor): Promise<BackupRecord> {
    const record = await this.get(idOrPrefix);
    if (record.pinned !== pinned) await this.records.update({ id: record.id }, { pinned, ...(pinned ? { expiresAt: null } : {}) });
    const saved = await this.get(record.id);
    this.events.emit(pinned ? BackupEvents.Pinned : BackupEvents.Unpinned, { record: saved, actor } satisfies BackupEvent);
    return saved;
  }

  /**
   * Soft-deletes (the file stays) or, with `hard`, removes the artifact and manifest too. A QUEUED
   * backup is cancelled: its job is removed, the record ends CANCELLED and what earlier attempts
   * left in storage goes. NOTE: when a worker claims it in between, the soft delete still holds:
   * the runner sees it before committing and ends the record CANCELLED, removing its files.
   */
  async delete(idOrPrefix: string, hard: boolean, actor?: Actor): Promise<BackupRecord> {
    const record = await this.get(idOrPrefix, { withDeleted: hard });
    const id = record.id;
    if (record.status === BackupStatus.Running) {
      throw new DomainError(ErrorCode.BackupRunning, `Backup ${id} is running; wait for it to finish before deleting it`);
    }
    if (record.pinned) throw new DomainError(ErrorCode.BackupPinned, `Backup ${id} is pinned; unpin it before deleting it`);
    if (record.status === BackupStatus.Queued) {
      await this.queue.remove(record.id);
      const cancelled = await this.records.update({ id, status: BackupStatus.Queued }, { status: BackupStatus.Cancelled, errorMessage: 'Cancelled before it ran', completedAt: new Date() });
      if (cancelled.affected) await discardLeftovers(this.storage, record).catch(() => undefined);
    }
    if (hard && record.fileKey) {
      await this.storage.delete(record.fileKey);
      await this.storage.delete(manifestKey(record.fileKey));
    }
    if (!record.deletedAt) await this.records.softDelete({ id });
    const deleted = await this.get(id, { withDeleted: true });
    this.events.emit(BackupEvents.Deleted, { record: deleted, actor, detail: { hard } } satisfies BackupEvent);
    return deleted;
  }

  /** Deletes many settled backups with their files, a few statements for all of them (see `deleteSettled`). */
  deleteSettled(ids: string[], actor?: Actor): ReturnType<typeof deleteSettled> {
    return deleteSettled({ records: this.records, storage: this.storage, events: this.events }, ids, actor);
  }

  /**
   * The newest good (COMPLETED or VERIFIED) backup of a target that holds its data (full scope,
   * schema and data), if any: the one retention always keeps and freshness counts.
   */
  newestGood(target: string): Promise<BackupRecord | null> {
    return findNewestGood(this.records, target);
  }

  /** Records that are QUEUED or RUNNING for a target (used by locks and the scheduler). */
  active(target?: string): Promise<BackupRecord[]> {
    return this.records.find({ where: ACTIVE.map((status) => (target ? { status, target } : { status })) });
  }
}

export { isUuid } from '../common/ids.js';
