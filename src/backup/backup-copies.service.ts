import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { In, type Repository } from 'typeorm';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { StorageRegistry } from '../storage/storage-registry.js';
import type { StorageBackend } from '../storage/storage.interface.js';
import { BackupCopy, CopyState, READABLE_COPY_STATES } from './entities/backup-copy.entity.js';
import { BackupRecord, GOOD_BACKUP_STATUSES } from './entities/backup-record.entity.js';

/** A place one backup's artifact can be read from. */
export interface CopySource {
  storage: string;
  backend: StorageBackend;
  /** The catalog's row for this copy; none for records older than destinations. */
  copy?: BackupCopy;
}

/** The destinations a record asked for (`metadata.storages`), if it says. */
export function requestedStorages(record: Pick<BackupRecord, 'metadata'>): string[] | undefined {
  const s = record.metadata?.storages;
  return Array.isArray(s) && s.every((n) => typeof n === 'string') ? (s as string[]) : undefined;
}

/**
 * Where each copy of a backup stands (`bm_backup_copies`): written by the backup runner, the
 * verifier, re-copies and the catalog rebuild; read for the record's `destinations` and to pick
 * where downloads, restores and verifications read from.
 */
@Injectable()
export class BackupCopies {
  constructor(
    @InjectRepository(BackupCopy, CATALOG_CONNECTION) private readonly copies: Repository<BackupCopy>,
    private readonly registry: StorageRegistry,
  ) {}

  forBackup(backupId: string): Promise<BackupCopy[]> {
    return this.copies.find({ where: { backupId }, order: { createdAt: 'ASC', storage: 'ASC' } });
  }

  /** The copies of several backups, by backup id. */
  async forBackups(ids: string[]): Promise<Map<string, BackupCopy[]>> {
    const out = new Map<string, BackupCopy[]>(ids.map((id) => [id, []]));
    if (!ids.length) return out;
    for (const c of await this.copies.find({ where: { backupId: In(ids) }, order: { createdAt: 'ASC', storage: 'ASC' } })) out.get(c.backupId)?.push(c);
    return out;
  }

  /** Copies in a state, oldest change first (the re-copy sweep). */
  inState(states: CopyState[], take = 100): Promise<BackupCopy[]> {
    return this.copies.find({ where: { state: In(states) }, order: { updatedAt: 'ASC' }, take });
  }

  /** Sets the state (and what else `patch` says) of one backup's copy in `storage`, creating the row if needed. */
  async set(backupId: string, storage: string, patch: Partial<Omit<BackupCopy, 'id' | 'backupId' | 'storage'>> & { fileKey: string; state: CopyState }): Promise<void> {
    const res = await this.copies.update({ backupId, storage }, patch);
    if (res.affected) return;
    try {
      await this.copies.insert({ id: randomUUID(), backupId, storage, sizeBytes: null, checksum: null, errorMessage: null, verifiedAt: null, ...patch });
    } catch {
      // Another writer inserted it first (unique backupId + storage): update theirs.
      await this.copies.update({ backupId, storage }, patch);
    }
  }

  /**
   * Where `record`'s artifact can be read from, best first: its copies in a readable state
   * (verified before stored before unverified, then in the order the record asked for), each on
   * a destination that is still configured. A record without copy rows (made before
   * destinations) is looked for in every destination, the defaults first.
   */
  async sources(record: Pick<BackupRecord, 'id' | 'metadata'>): Promise<CopySource[]> {
    const rows = await this.forBackup(record.id);
    if (!rows.length) return this.registry.ordered().map(({ name, backend }) => ({ storage: name, backend }));
    const asked = requestedStorages(record) ?? [];
    const rank = (c: BackupCopy) => READABLE_COPY_STATES.indexOf(c.state) * 1000 + (asked.includes(c.storage) ? asked.indexOf(c.storage) : 999);
    return rows
      .filter((c) => READABLE_COPY_STATES.includes(c.state) && this.registry.has(c.storage))
      .sort((a, b) => rank(a) - rank(b))
      .map((copy) => ({ storage: copy.storage, backend: this.registry.get(copy.storage), copy }));
  }

  /**
   * How many usable backups (not deleted) lack their copy in each destination: copies FAILED,
   * MISSING or CORRUPTED (see `lackingCopies`). Destinations with none are left out.
   */
  async lackingByStorage(): Promise<Array<{ storage: string; backups: number }>> {
    const rows = await this.copies
      .createQueryBuilder('c')
      .innerJoin(BackupRecord, 'b', 'b.id = c.backupId')
      .select('c.storage', 'storage')
      .addSelect('COUNT(*)', 'n')
      // The states that are not readable, by name: a seek in the state index to the few such copies, not a scan of them all.
      .where('c.state IN (:...lacking)', { lacking: Object.values(CopyState).filter((st) => !READABLE_COPY_STATES.includes(st)) })
      .andWhere('b.status IN (:...good)', { good: GOOD_BACKUP_STATUSES })
      .andWhere('b.deletedAt IS NULL')
      .groupBy('c.storage')
      .getRawMany<{ storage: string; n: unknown }>();
    return rows.map((r) => ({ storage: r.storage, backups: Number(r.n) }));
  }

  /** Removes a backup's copy rows that name `fileKey` (an attempt that could not commit its file). */
  async forgetFile(backupId: string, fileKey: string): Promise<void> {
    await this.copies.delete({ backupId, fileKey });
  }

  /** Removes every copy row of a backup (after its artifacts were deleted). */
  async forget(backupId: string): Promise<void> {
    await this.copies.delete({ backupId });
  }
}
