import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import type { Repository } from 'typeorm';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { APP_EVENTS } from '../common/app-events.js';
import { isUuid } from '../common/ids.js';
import { logLine } from '../common/log-line.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { JobName } from '../queue/jobs.js';
import { StorageRegistry } from '../storage/storage-registry.js';
import type { StorageBackend } from '../storage/storage.interface.js';
import { MANIFEST_FORMAT_VERSION } from './artifact-commit.js';
import { BackupCopies } from './backup-copies.service.js';
import { BackupCopy, CopyState, READABLE_COPY_STATES } from './entities/backup-copy.entity.js';
import { BackupRecord, BackupStatus, BackupType } from './entities/backup-record.entity.js';

const MANIFEST_SUFFIX = '.manifest.json';

/** What a rebuild found and did (or, dry, would do), per destination scanned. */
export interface RebuildReport {
  dryRun: boolean;
  storages: Array<{
    storage: string;
    manifests: number;
    /** Records recreated with their original ids. */
    created: Array<{ id: string; target: string; fileKey: string; state: CopyState }>;
    /** Existing records that gained this destination's copy. */
    copiesAdded: string[];
    /** Copies in this destination whose artifact is gone, now MISSING. */
    markedMissing: string[];
    unchanged: number;
    /** Manifests that could not be used, and why. */
    invalid: Array<{ key: string; reason: string }>;
    error?: string;
  }>;
}

interface Manifest {
  formatVersion: number;
  id: string;
  target: string;
  database?: string;
  engine: string;
  clientVersion?: string;
  type: string;
  scope: string;
  tables: string[] | null;
  includeSchema: boolean;
  includeData: boolean;
  format: string;
  compression: string;
  encryption?: BackupRecord['encryption'];
  checksum: { algorithm: string; value: string };
  sizeBytes: number;
  rawBytes: number | null;
  databaseSizeBytes?: number | null;
  tableCount?: number | null;
  rowEstimate?: number | null;
  tableRows?: Record<string, number>;
  createdAt: string;
  completedAt: string;
  triggeredBy: string;
}

/**
 * Disaster recovery: recreates the catalog from the manifests in a destination. Each manifest
 * whose record is missing becomes a record with its original id; its artifact is read and checked
 * against the manifest's size and SHA-256 first (COMPLETED and STORED when they match, CORRUPTED
 * when not, UNVERIFIED when it cannot be read). Copies the catalog has in that destination whose
 * artifact is gone are marked MISSING. Running it again changes nothing.
 */
@Injectable()
export class CatalogRebuild {
  private readonly logger = new Logger('CatalogRebuild');

  constructor(
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    private readonly registry: StorageRegistry,
    private readonly copies: BackupCopies,
    private readonly queue: JobsQueue,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
  ) {}

  /** Rebuilds from `storage` (default: every destination). @throws STORAGE_NOT_FOUND for an unknown one. */
  async rebuild(opts: { storage?: string; dryRun?: boolean } = {}): Promise<RebuildReport> {
    const names = opts.storage ? [this.registry.get(opts.storage) && opts.storage] : this.registry.ordered().map((o) => o.name);
    const report: RebuildReport = { dryRun: !!opts.dryRun, storages: [] };
    for (const name of names) report.storages.push(await this.fromStorage(name, this.registry.get(name), !!opts.dryRun));
    const created = report.storages.reduce((n, s) => n + s.created.length, 0);
    this.logger.log(logLine(opts.dryRun ? 'catalog rebuild (dry run)' : 'catalog rebuilt', { storages: names.join(','), created }));
    if (!opts.dryRun) this.events.emit('catalog.rebuilt', { detail: { storages: names, created, missing: report.storages.reduce((n, s) => n + s.markedMissing.length, 0) } });
    return report;
  }

  private async fromStorage(storage: string, backend: StorageBackend, dryRun: boolean): Promise<RebuildReport['storages'][number]> {
    const out: RebuildReport['storages'][number] = { storage, manifests: 0, created: [], copiesAdded: [], markedMissing: [], unchanged: 0, invalid: [] };
    let listing;
    try {
      listing = await backend.list();
    } catch (err) {
      out.error = (err as Error).message;
      return out;
    }
    const present = new Map(listing.map((s) => [s.key, s]));
    for (const entry of listing.filter((s) => s.key.endsWith(MANIFEST_SUFFIX))) {
      out.manifests++;
      const fileKey = entry.key.slice(0, -MANIFEST_SUFFIX.length);
      let m: Manifest | undefined;
      try {
        m = await backend.readJson<Manifest>(entry.key);
      } catch (err) {
        out.invalid.push({ key: entry.key, reason: `unreadable: ${(err as Error).message}` });
        continue;
      }
      const problem = manifestProblem(m);
      if (problem || !m) {
        out.invalid.push({ key: entry.key, reason: problem ?? 'empty' });
        continue;
      }
      const existing = await this.records.findOne({ where: { id: m.id }, withDeleted: true });
      const copies = existing ? await this.copies.forBackup(m.id) : [];
      if (existing && copies.some((c) => c.storage === storage)) {
        out.unchanged++;
        continue;
      }
      const artifact = present.get(fileKey);
      if (!artifact) {
        out.invalid.push({ key: entry.key, reason: `its artifact ${fileKey} is not in storage "${storage}"` });
        continue;
      }
      const state = await this.checkArtifact(backend, fileKey, m);
      if (dryRun) {
        if (existing) out.copiesAdded.push(m.id);
        else out.created.push({ id: m.id, target: m.target, fileKey, state });
        continue;
      }
      if (!existing) {
        await this.records.insert(recordFrom(m, fileKey, storage, state));
        out.created.push({ id: m.id, target: m.target, fileKey, state });
        if (state === CopyState.Stored) {
          await this.queue.add(JobName.Verify, { backupId: m.id, drill: false, requestedBy: 'system:catalog-rebuild' }, `verify-${m.id}-rebuild`).catch(() => undefined);
        }
      } else {
        out.copiesAdded.push(m.id);
      }
      await this.copies.set(m.id, storage, {
        fileKey,
        state,
        sizeBytes: artifact.size,
        checksum: m.checksum.value,
        errorMessage: state === CopyState.Corrupted ? 'the artifact does not match its manifest (size or SHA-256)' : state === CopyState.Unverified ? 'the artifact could not be read to check it' : null,
      });
    }
    // Copies the catalog has here whose artifact is gone.
    for (const c of await this.copiesIn(storage)) {
      if (present.has(c.fileKey)) continue;
      out.markedMissing.push(c.backupId);
      if (!dryRun) await this.copies.set(c.backupId, storage, { fileKey: c.fileKey, state: CopyState.Missing, errorMessage: `the artifact is gone from storage "${storage}" (catalog rebuild)` });
    }
    return out;
  }

  private async copiesIn(storage: string): Promise<BackupCopy[]> {
    const all = await this.copies.inState([...READABLE_COPY_STATES], 100_000);
    return all.filter((c) => c.storage === storage);
  }

  /** STORED when the artifact has the manifest's size and SHA-256, CORRUPTED when not, UNVERIFIED when it cannot be read. */
  private async checkArtifact(backend: StorageBackend, fileKey: string, m: Manifest): Promise<CopyState> {
    try {
      const st = await backend.stat(fileKey);
      if (!st || st.size !== m.sizeBytes) return CopyState.Corrupted;
      const hash = createHash('sha256');
      for await (const chunk of await backend.read(fileKey)) hash.update(chunk as Buffer);
      return hash.digest('hex') === m.checksum.value ? CopyState.Stored : CopyState.Corrupted;
    } catch {
      return CopyState.Unverified;
    }
  }
}

function manifestProblem(m: Manifest | undefined): string | undefined {
  if (!m || typeof m !== 'object') return 'not a JSON object';
  if (m.formatVersion !== MANIFEST_FORMAT_VERSION) return `format version ${String(m.formatVersion)} is not ${MANIFEST_FORMAT_VERSION}`;
  if (!isUuid(m.id)) return 'its id is not a UUID';
  if (typeof m.target !== 'string' || !/^[a-z0-9_]{1,64}$/.test(m.target)) return 'its target is not a target name';
  if (m.checksum?.algorithm !== 'sha256' || !/^[0-9a-f]{64}$/.test(m.checksum?.value ?? '')) return 'it has no SHA-256';
  if (!Number.isSafeInteger(m.sizeBytes)) return 'it has no size';
  if (!['postgres', 'mysql'].includes(m.engine)) return `unknown engine ${String(m.engine)}`;
  return undefined;
}

/** The record a manifest describes, as the backup committed it. */
function recordFrom(m: Manifest, fileKey: string, storage: string, state: CopyState): Partial<BackupRecord> {
  const created = new Date(m.createdAt);
  const completed = new Date(m.completedAt);
  return {
    id: m.id,
    type: (Object.values(BackupType) as string[]).includes(m.type) ? (m.type as BackupType) : BackupType.Manual,
    status: state === CopyState.Corrupted ? BackupStatus.Corrupted : BackupStatus.Completed,
    target: m.target,
    engine: m.engine as BackupRecord['engine'],
    scope: (m.scope ?? 'full') as BackupRecord['scope'],
    tables: m.tables ?? null,
    includeSchema: m.includeSchema !== false,
    includeData: m.includeData !== false,
    format: (m.format ?? 'plain') as BackupRecord['format'],
    compression: m.compression as BackupRecord['compression'],
    encrypted: !!m.encryption,
    encryption: m.encryption ?? null,
    fileKey,
    sizeBytes: m.sizeBytes,
    rawBytes: m.rawBytes ?? null,
    checksum: m.checksum.value,
    startedAt: null,
    completedAt: Number.isNaN(completed.getTime()) ? null : completed,
    durationMs: Number.isNaN(completed.getTime()) || Number.isNaN(created.getTime()) ? null : completed.getTime() - created.getTime(),
    databaseSizeBytes: m.databaseSizeBytes ?? null,
    tableCount: m.tableCount ?? null,
    rowEstimate: m.rowEstimate ?? null,
    compressionRatio: m.rawBytes && m.sizeBytes ? Math.round((m.rawBytes / m.sizeBytes) * 1000) / 1000 : null,
    triggeredBy: typeof m.triggeredBy === 'string' ? m.triggeredBy.slice(0, 128) : 'catalog-rebuild',
    description: null,
    errorMessage: state === CopyState.Corrupted ? `rebuilt from storage "${storage}": the artifact does not match its manifest` : null,
    retentionDays: null,
    expiresAt: null,
    pinned: false,
    verifiedAt: null,
    attempts: 1,
    metadata: {
      rebuiltFrom: storage,
      storages: [storage],
      ...(m.database ? { database: m.database } : {}),
      ...(m.clientVersion ? { clientVersion: m.clientVersion } : {}),
      ...(m.tableRows ? { tableRows: m.tableRows, tableRowsSource: 'manifest' } : {}),
    },
    ...(Number.isNaN(created.getTime()) ? {} : { createdAt: created }),
  };
}
