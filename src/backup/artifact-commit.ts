import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type FindOptionsWhere, type Repository } from 'typeorm';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { EngineError } from '../common/errors.js';
import { FanoutWriter, type CopyOutcome } from '../storage/fanout-writer.js';
import { LOCAL_STORAGE, StorageRegistry } from '../storage/storage-registry.js';
import { ARTIFACT_STORAGE, type ArtifactStorage, type ArtifactWriter } from '../storage/storage.interface.js';
import { manifestKey } from './artifact-name.js';
import { BackupCopies } from './backup-copies.service.js';
import { CopyState } from './entities/backup-copy.entity.js';
import { BackupRecord, BackupStatus } from './entities/backup-record.entity.js';
import { discardLeftovers } from './leftovers.js';

export const MANIFEST_FORMAT_VERSION = 1;

/** The record was deleted while its job waited or ran: the job ends it CANCELLED, without its files. */
export class BackupDeleted extends Error {
  constructor() {
    super('the backup was deleted while it ran');
  }
}

/**
 * The catalog side of artifacts: how an attempt publishes its artifact and commits its record,
 * and how a record that ends without one (FAILED, CANCELLED) loses what its attempts left in
 * storage. Shared by the backup runner and the reconciler, so both follow one protocol:
 * an artifact's key is noted in `metadata.pendingFileKeys` before it becomes visible in storage,
 * and the record names it only through a compare-and-set on the attempt that wrote it.
 */
@Injectable()
export class ArtifactCommits {
  constructor(
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    @Inject(ARTIFACT_STORAGE) private readonly storage: ArtifactStorage,
    private readonly registry: StorageRegistry,
    private readonly copies: BackupCopies,
  ) {}

  /**
   * Publishes the artifact `writer` holds under `fileKey` with its manifest, then commits the
   * record as attempt `attempt` with `result`. Announces the key first: if this process dies
   * between the rename and the record update, the next attempt (or the reconciler) removes the
   * file. If the commit fails after the rename the artifact is removed again (the caller aborts
   * the writer). Artifacts of fenced-off earlier attempts renamed into place meanwhile go too.
   * With several destinations, the record commits when at least one holds the artifact and its
   * manifest; each destination's outcome is recorded as a copy (STORED or FAILED, with why)
   * before the record says COMPLETED, and removed again if the record does not commit.
   * @returns each destination's outcome.
   * @throws BackupDeleted when the record was deleted; a retryable EngineError when another
   * attempt owns the record now.
   */
  async commit(record: BackupRecord, attempt: number, writer: ArtifactWriter, fileKey: string, started: number, result: Partial<BackupRecord>): Promise<CopyOutcome[]> {
    const pending = await this.notePending(record.id, attempt, fileKey);
    if (!pending) throw superseded();
    const others = ((pending.pendingFileKeys as string[] | undefined) ?? []).filter((k) => k !== fileKey);
    let outcomes: CopyOutcome[];
    let copiesNoted = false;
    try {
      await writer.commit({ sha256: result.checksum ?? undefined }).catch((err: Error) => {
        throw storageError(err, fileKey);
      });
      // Completion time: when the artifact became durable under its key.
      result.completedAt = new Date();
      result.durationMs = result.completedAt.getTime() - started;
      outcomes = writer instanceof FanoutWriter ? writer.outcomes() : [{ storage: LOCAL_STORAGE, ok: true }];
      // The manifest beside each copy (the catalog can be rebuilt from any destination). Its
      // partial file is named after the record, so a crash mid-write leaves a partial the next
      // attempt or the reconciler removes. A destination that cannot take it loses its copy.
      const body = manifest(record, result);
      for (const o of outcomes.filter((x) => x.ok)) {
        const dest = this.registry.has(o.storage) ? this.registry.get(o.storage) : this.storage;
        try {
          await dest.writeJson(manifestKey(fileKey), body, record.id);
        } catch (err) {
          o.ok = false;
          o.error = storageError(err as Error, manifestKey(fileKey));
          await dest.delete(fileKey).catch(() => false);
        }
      }
      const stored = outcomes.filter((o) => o.ok);
      if (!stored.length) throw outcomes.find((o) => o.error)?.error ?? new Error('no destination took the artifact');
      const { pendingFileKeys: _drop, progress: _progress, ...metadata } = { ...pending, ...(result.metadata ?? {}) };
      // Each destination's copy is written before the record says COMPLETED: whoever reads a
      // COMPLETED record (a user, the verification it queues) finds where it is and which copy failed.
      copiesNoted = true;
      for (const o of outcomes) {
        await this.copies.set(record.id, o.storage, {
          fileKey,
          state: o.ok ? CopyState.Stored : CopyState.Failed,
          sizeBytes: o.ok ? (result.sizeBytes ?? null) : null,
          checksum: o.ok ? (result.checksum ?? null) : null,
          errorMessage: o.ok ? null : (o.error?.message ?? 'the copy could not be written').slice(0, 2000),
        });
      }
      // NOTE: the commit requires the record undeleted, atomically: a delete that lands after it
      // is a soft delete of a completed backup (the file stays, as for any soft delete).
      const res = await this.records.update({ id: record.id, attempts: attempt, status: BackupStatus.Running, deletedAt: IsNull() }, { ...result, metadata });
      if (!res.affected) {
        if (await this.isDeleted(record.id)) throw new BackupDeleted();
        throw superseded();
      }
    } catch (err) {
      // Only this attempt's rows: an attempt that owns the record now records its own file.
      if (copiesNoted) await this.copies.forgetFile(record.id, fileKey).catch(() => undefined);
      await this.deleteArtifact(fileKey);
      throw err;
    }
    // A fenced-off earlier attempt may have renamed its file into place meanwhile.
    for (const k of others) await this.deleteArtifact(k);
    return outcomes;
  }

  /**
   * Ends a record without an artifact: `update` applies where `where` still holds; then what its
   * attempts left in storage (uncommitted artifacts, partial files) goes, with the copy rows of an
   * attempt that died between recording its copies and committing. NOTE: only for a record no
   * attempt is writing any more. @returns whether this call ended it, and the record now.
   */
  async endWithout(id: string, where: FindOptionsWhere<BackupRecord>, update: Partial<BackupRecord>, onDiscardError: (err: Error) => void): Promise<{ ended: boolean; record: BackupRecord | null }> {
    const res = await this.records.update({ ...where, id }, update);
    const record = await this.records.findOne({ where: { id }, withDeleted: true });
    if (res.affected && record) {
      await discardLeftovers(this.storage, record).catch(onDiscardError);
      await this.copies.forget(id).catch(onDiscardError);
    }
    return { ended: !!res.affected, record };
  }

  /**
   * Removes the artifacts that attempts of `record` published without committing it (crash
   * between the rename and the record update), except `keep`. Leaves the record's list as is.
   */
  async discardPending(record: Pick<BackupRecord, 'id' | 'metadata' | 'fileKey'>, keep: string[]): Promise<void> {
    for (const k of (record.metadata?.pendingFileKeys as string[] | undefined) ?? []) {
      if (!keep.includes(k) && k !== record.fileKey) await this.deleteArtifact(k);
    }
  }

  async isDeleted(id: string): Promise<boolean> {
    return !!(await this.records.findOne({ where: { id }, withDeleted: true }))?.deletedAt;
  }

  private async deleteArtifact(key: string): Promise<void> {
    await this.storage.delete(key).catch(() => false);
    await this.storage.delete(manifestKey(key)).catch(() => false);
  }

  /**
   * Adds `fileKey` to the record's `metadata.pendingFileKeys` if this attempt still owns it.
   * @returns the record's metadata as written, or undefined if another attempt owns the record.
   */
  private async notePending(id: string, attempt: number, fileKey: string): Promise<Record<string, unknown> | undefined> {
    const current = await this.records.findOne({ where: { id }, withDeleted: true });
    if (!current || current.attempts !== attempt || current.status !== BackupStatus.Running) return undefined;
    if (current.deletedAt) throw new BackupDeleted();
    const keys = [...((current.metadata?.pendingFileKeys as string[] | undefined) ?? []).filter((k) => k !== fileKey), fileKey];
    const metadata = { ...(current.metadata ?? {}), pendingFileKeys: keys };
    const res = await this.records.update({ id, attempts: attempt, status: BackupStatus.Running }, { metadata });
    return res.affected ? metadata : undefined;
  }
}

const superseded = () => new EngineError('this attempt was superseded before it could commit; its artifact was discarded', { retryable: true });

function manifest(record: BackupRecord, result: Partial<BackupRecord>) {
  return {
    formatVersion: MANIFEST_FORMAT_VERSION,
    id: record.id,
    target: record.target,
    database: result.metadata?.database,
    engine: record.engine,
    clientVersion: result.metadata?.clientVersion,
    type: record.type,
    scope: record.scope,
    tables: record.tables,
    includeSchema: record.includeSchema,
    includeData: record.includeData,
    format: record.format,
    compression: record.compression,
    // Public facts only (format, mode, recipients' public keys): the manifest never holds a key.
    encryption: result.encryption ?? null,
    checksum: { algorithm: 'sha256', value: result.checksum },
    sizeBytes: result.sizeBytes,
    rawBytes: result.rawBytes,
    databaseSizeBytes: result.databaseSizeBytes,
    tableCount: result.tableCount,
    rowEstimate: result.rowEstimate,
    // Exact row counts for drills of a catalog rebuilt from storage.
    tableRows: result.metadata?.tableRows,
    createdAt: record.createdAt,
    completedAt: result.completedAt,
    triggeredBy: record.triggeredBy,
  };
}

/**
 * A storage failure said plainly: a full disk names itself ("no space left on the backup
 * storage"), since the raw `ENOSPC: no space left on device, write` names no file.
 */
export function storageError(err: Error, key: string | undefined): Error {
  // A child process (zstd writing the file itself) reports the condition in words, not as a code.
  const code =
    (err as NodeJS.ErrnoException).code ??
    /\b(ENOSPC|EDQUOT)\b/.exec(err.message)?.[1] ??
    (/no space left on device/i.test(err.message) ? 'ENOSPC' : /disk quota exceeded/i.test(err.message) ? 'EDQUOT' : undefined);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const what = code === 'ENOSPC' ? 'no space left on the backup storage' : 'the disk quota of the backup storage is exhausted';
    return new EngineError(`${what} while writing ${key ?? 'an artifact'} (${code}); free space or move STORAGE_DIR, then back up again`, { retryable: true });
  }
  return err;
}
