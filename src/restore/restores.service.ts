import { Inject, Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_EVENTS } from '../common/app-events.js';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { IsNull, Not, type FindOptionsWhere, type Repository } from 'typeorm';
import type { Actor } from '../auth/roles.js';
import { BackupRecord, BackupStatus, VERIFIABLE_BACKUP_STATUSES } from '../backup/entities/backup-record.entity.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { isUniqueViolation, retryDeadlocks } from '../catalog/unique-violation.js';
import { DomainError, ErrorCode, invalid } from '../common/errors.js';
import { findByIdOrPrefix } from '../common/ids.js';
import { toPage, type Paged } from '../common/page.dto.js';
import { redact } from '../common/redact.js';
import type { TargetOptions } from '../config/options.js';
import { DATABASE_NAME } from '../engines/restorer.interface.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { JobName } from '../queue/jobs.js';
import { QueueGate } from '../queue/queue-gate.js';
import { ARTIFACT_STORAGE, type ArtifactStorage } from '../storage/storage.interface.js';
import { TargetsService, type ResolvedTarget } from '../targets/targets.service.js';
import { canonicalTableKey, canonicalTableName, TableNameError } from '../engines/table-names.js';
import type { ListRestoresQuery } from './dto/restore.dto.js';
import { endRunUpdate, RestoreRun, RestoreStatus } from './entities/restore-run.entity.js';
import { RestoreDestinations, type Destination } from './restore-destinations.js';
import { RestoreEvents, VerifyEvents, type RestoreEvent } from './restore-events.js';

/** What a caller (HTTP, CLI or host code) asks a restore to do. */
export interface RestoreRequest {
  confirm?: boolean;
  targetDatabase?: string;
  dropExisting?: boolean;
  force?: boolean;
  safetyBackup?: boolean;
  /** Restore only these tables out of the backup (any accepted spelling, `table-names.ts`). */
  tables?: string[];
}

const RESTORABLE = [BackupStatus.Completed, BackupStatus.Verified];

/** Job states in which a verification has not started yet. */
const WAITING_STATES = ['waiting', 'prioritized', 'delayed', 'paused', 'waiting-children'];

/** What `requestVerify` queued, or found already queued (`created: false`). */
export interface VerifyRequested {
  backupId: string;
  drill: boolean;
  jobId: string;
  created: boolean;
}

/** Restore and verification requests, and the restore history. Workers do the work. */
@Injectable()
export class RestoresService {

  constructor(
    @InjectRepository(RestoreRun, CATALOG_CONNECTION) private readonly runs: Repository<RestoreRun>,
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly backups: Repository<BackupRecord>,
    @Inject(ARTIFACT_STORAGE) private readonly storage: ArtifactStorage,
    private readonly targets: TargetsService,
    private readonly queue: JobsQueue,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
    private readonly destinations: RestoreDestinations,
    private readonly gate: QueueGate,
  ) {}

  /**
   * Checks where the restore would write (`RestoreDestinations`), records a QUEUED run holding
   * the destination's key and enqueues it. The key's UNIQUE index makes the one-restore-per-
   * database rule atomic: of simultaneous requests for one physical database, whichever target
   * names reach it, exactly one is recorded.
   * @throws VALIDATION_FAILED without `confirm: true` or for an invalid name; BACKUP_NOT_FOUND or
   * TARGET_NOT_FOUND; RESTORE_DESTINATION_FORBIDDEN for a destination no restore may write;
   * BACKUP_DELETED, BACKUP_NOT_RESTORABLE or ARTIFACT_MISSING for a backup that cannot be restored;
   * RESTORE_IN_PROGRESS while another restore of the same database is queued or running;
   * QUEUE_FULL (429, Retry-After) when `queue.maxWaiting` jobs wait (nothing is recorded then).
   */
  async request(backupId: string, req: RestoreRequest, actor?: Actor): Promise<RestoreRun> {
    const backup = await this.backup(backupId);
    if (backup.deletedAt) throw new DomainError(ErrorCode.BackupDeleted, `Backup ${backup.id} is deleted; it cannot be restored`);
    const target = this.targets.get(backup.target);
    const home = homeDatabase(backup, target);
    const database = req.targetDatabase ?? home;
    if (!DATABASE_NAME.test(database)) throw invalid('targetDatabase must be 1 to 63 letters, digits or underscores');
    const intoOther = database !== target.database;
    if (req.confirm !== true) {
      throw invalid(`confirm: true is required: this restore replaces the contents of database "${database}" of target "${target.name}"`);
    }
    if (!backup.fileKey || ![...RESTORABLE, BackupStatus.Corrupted].includes(backup.status)) {
      throw new DomainError(ErrorCode.BackupNotRestorable, `Backup ${backup.id} is ${backup.status} and has no artifact to restore`);
    }
    if (!RESTORABLE.includes(backup.status) && !req.force) {
      throw new DomainError(ErrorCode.BackupNotRestorable, `Backup ${backup.id} is ${backup.status}${backup.errorMessage ? ` (${backup.errorMessage})` : ''}; pass force: true to restore it anyway`);
    }
    const tables = req.tables === undefined ? null : tablesToRestore(backup, req.tables);
    if (!(await this.storage.stat(backup.fileKey))) throw new DomainError(ErrorCode.ArtifactMissing, `The artifact of backup ${backup.id} is missing from storage`);
    const destination = await this.destination(target.name, database);

    const run = this.runs.create({
      id: randomUUID(),
      backupId: backup.id,
      target: target.name,
      engine: target.engine,
      database,
      intoOtherDatabase: intoOther,
      dropExisting: req.dropExisting ?? database === home,
      force: !!req.force,
      // Taken when the destination exists at run time (a database the restore creates has nothing to save).
      safetyBackup: req.safetyBackup !== false,
      safetyBackupId: null,
      status: RestoreStatus.Queued,
      activeKey: destination.key,
      requestedBy: actor ? `user:${actor.sub}` : 'system',
      attempts: 0,
      metadata: actor || tables ? { ...(actor ? { actor: { sub: actor.sub, name: actor.name, role: actor.role } } : {}), ...(tables ? { tables } : {}) } : null,
    });
    await this.gate.assertRoom('restore');
    try {
      // A deadlock victim (simultaneous requests for one database, MySQL/MariaDB) tries again: it
      // then meets the winner's unique key like the others.
      await retryDeadlocks(() => this.runs.insert(run));
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const busy = await this.runs.findOne({ where: { activeKey: destination.key } });
      throw new DomainError(
        ErrorCode.RestoreInProgress,
        busy
          ? `Restore ${busy.id} of database "${busy.database}" (target ${busy.target}) is ${busy.status}; wait for it to finish`
          : `Another restore of database "${database}" was requested at the same moment; try again once it has finished`,
      );
    }
    try {
      // NOTE: one attempt only: a restore is a destructive act an operator re-requests deliberately.
      await this.queue.add(JobName.Restore, { runId: run.id }, run.id, { attempts: 1 });
    } catch (err) {
      await this.runs.update(run.id, endRunUpdate(RestoreStatus.Failed, { errorMessage: `Could not enqueue the job: ${(err as Error).message}`, completedAt: new Date() }));
      throw new DomainError(ErrorCode.QueueUnavailable, 'The job queue (Redis) is unavailable; the restore was not started');
    }
    const saved = await this.runs.findOneByOrFail({ id: run.id });
    this.events.emit(RestoreEvents.Requested, { run: saved, actor, detail: { backupId: backup.id } } satisfies RestoreEvent);
    return saved;
  }

  /** Where the restore would write, checked as the API sees it; the server's errors become 503. */
  private async destination(targetName: string, database: string): Promise<Destination> {
    let target: ResolvedTarget | undefined;
    try {
      target = await this.targets.resolve(targetName);
      return await this.destinations.check(target, database, 'request');
    } catch (err) {
      if (err instanceof DomainError) throw err;
      const reason = redact((err as Error).message, this.targets.secretsOf(target));
      throw new DomainError(ErrorCode.TargetUnreachable, `Could not check whether database "${database}" exists on the server of target "${targetName}": ${reason}`);
    }
  }

  /**
   * Queues a verification (basic, or a drill) of a backup; while the same kind of verification of
   * that backup is still waiting for a worker, returns that one (`created: false`) instead.
   * `requestedBy` names a caller without an actor (e.g. `schedule:drill`).
   * @throws BACKUP_DELETED or BACKUP_NOT_RESTORABLE for a deleted or unverifiable backup; QUEUE_FULL (429, Retry-After) when
   * `queue.maxWaiting` jobs wait.
   */
  async requestVerify(backupId: string, drill: boolean, actor?: Actor, opts: { requestedBy?: string } = {}): Promise<VerifyRequested> {
    const backup = await this.backup(backupId);
    if (backup.deletedAt) throw new DomainError(ErrorCode.BackupDeleted, `Backup ${backup.id} is deleted`);
    if (!VERIFIABLE_BACKUP_STATUSES.includes(backup.status)) throw new DomainError(ErrorCode.BackupNotRestorable, `Backup ${backup.id} is ${backup.status}; only COMPLETED, VERIFIED or CORRUPTED backups can be verified`);
    if (drill && !backup.includeSchema) throw new DomainError(ErrorCode.BackupNotRestorable, `Backup ${backup.id} holds data only; a drill needs the schema to restore into an empty database`);
    if (drill) this.targets.get(backup.target);
    const kind = drill ? 'drill' : 'verify';
    const pointer = `verify-queued:${backup.id}:${kind}`;
    return this.gate.exclusive(pointer, async () => {
      const queued = await this.gate.recall(pointer);
      if (queued && WAITING_STATES.includes((await this.queue.jobInfo(queued).catch(() => undefined))?.state ?? 'unknown')) {
        return { backupId: backup.id, drill, jobId: queued, created: false };
      }
      await this.gate.assertRoom(drill ? 'restore drill' : 'verification');
      const jobId = `verify-${backup.id}-${randomUUID()}`;
      await this.queue.add(JobName.Verify, { backupId: backup.id, drill, requestedBy: actor ? `user:${actor.sub}` : opts.requestedBy }, jobId, { attempts: 1 });
      await this.gate.remember(pointer, jobId, 7 * 86_400_000);
      this.events.emit(VerifyEvents.Requested, { record: backup, actor, detail: { drill, jobId } });
      return { backupId: backup.id, drill, jobId, created: true };
    });
  }

  async list(q: ListRestoresQuery): Promise<Paged<RestoreRun>> {
    const where: FindOptionsWhere<RestoreRun> = {};
    if (q.status) where.status = q.status;
    if (q.target) where.target = q.target;
    if (q.backupId) where.backupId = q.backupId;
    const [items, total] = await this.runs.findAndCount({ where, order: { createdAt: 'DESC', id: 'DESC' }, skip: (q.page - 1) * q.limit, take: q.limit });
    return toPage(items, total, q);
  }

  get(id: string): Promise<RestoreRun> {
    return findByIdOrPrefix(this.runs, id, 'Restore', ErrorCode.RestoreNotFound);
  }

  /** Restore runs by status and backups by verification outcome. */
  async stats(): Promise<{ restores: Record<string, number>; verifications: Record<string, number>; lastRestoreAt: Date | null; lastVerifiedAt: Date | null }> {
    const restores: Record<string, number> = Object.fromEntries(Object.values(RestoreStatus).map((s) => [s, 0]));
    for (const r of await this.runs.createQueryBuilder('r').select('r.status', 'status').addSelect('COUNT(*)', 'n').groupBy('r.status').getRawMany<{ status: string; n: string }>()) {
      restores[r.status] = Number(r.n);
    }
    const count = (status: BackupStatus) => this.backups.count({ where: { status } });
    const [verified, corrupted, unverified] = await Promise.all([count(BackupStatus.Verified), count(BackupStatus.Corrupted), count(BackupStatus.Completed)]);
    const lastRun = await this.runs.findOne({ where: { completedAt: Not(IsNull()), status: RestoreStatus.Completed }, order: { completedAt: 'DESC' } });
    const lastVerified = await this.backups.findOne({ where: { verifiedAt: Not(IsNull()) }, order: { verifiedAt: 'DESC' } });
    return {
      restores,
      verifications: { VERIFIED: verified, CORRUPTED: corrupted, unverified },
      lastRestoreAt: lastRun?.completedAt ?? null,
      lastVerifiedAt: lastVerified?.verifiedAt ?? null,
    };
  }

  private backup(id: string): Promise<BackupRecord> {
    return findByIdOrPrefix(this.backups, id, 'Backup', ErrorCode.BackupNotFound, { withDeleted: true });
  }
}

/**
 * The database a backup goes back into by default: for a safety backup of a database that is
 * not its target's own, that database (recorded in `metadata.database`); else the target's own.
 */
export function homeDatabase(backup: BackupRecord, target: TargetOptions): string {
  const held = backup.metadata?.database;
  return backup.metadata?.safetyBackupFor && typeof held === 'string' && held ? held : target.database;
}

/**
 * The canonical names of the tables a table-level restore asks for, checked against the tables
 * the backup holds (its recorded row counts, or the tables of a partial/selective backup). Where
 * the backup recorded neither, the worker checks while reading the dump.
 * @throws VALIDATION_FAILED for an empty list or a name that cannot be read; TABLE_NOT_IN_BACKUP
 * naming the tables the backup lacks and those it holds.
 */
export function tablesToRestore(backup: BackupRecord, asked: string[]): string[] {
  if (!Array.isArray(asked) || !asked.length) throw invalid('tables must name at least one table (leave it out to restore the whole backup)');
  const engine = backup.engine as TargetOptions['engine'];
  const names: string[] = [];
  for (const t of asked) {
    if (typeof t !== 'string' || !t || t.includes('\0')) throw invalid('tables: every name must be a non-empty string without NUL characters');
    try {
      const name = canonicalTableName(engine, t);
      if (!names.includes(name)) names.push(name);
    } catch (err) {
      if (err instanceof TableNameError) throw invalid(`${err.message.slice(0, 400)}; GET /api/v1/targets/${backup.target}/tables lists the names`);
      throw err;
    }
  }
  const rows = backup.metadata?.tableRows;
  const held =
    rows && typeof rows === 'object' && !Array.isArray(rows) ? Object.keys(rows).map((t) => canonicalTableKey(engine, t))
    : backup.scope !== 'full' && backup.tables?.length ? backup.tables.map((t) => canonicalTableKey(engine, t))
    : undefined;
  if (held) {
    const missing = names.filter((n) => !held.includes(n));
    if (missing.length) {
      const list = missing.slice(0, 20).map((t) => JSON.stringify(t.slice(0, 128))).join(', ');
      const shown = [...held].sort().slice(0, 30).join(', ');
      throw new DomainError(
        ErrorCode.TableNotInBackup,
        `Backup ${backup.id} holds no table ${list}; it holds: ${shown || 'no tables'}${held.length > 30 ? `, … (${held.length} in all)` : ''}`,
      );
    }
  }
  return names;
}
