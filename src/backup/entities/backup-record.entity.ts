import { Column, CreateDateColumn, DeleteDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../../catalog/column-transformers.js';
import type { BackupScopeKind, Compression, DumpFormat, EngineKind } from '../../common/vocabulary.js';
import type { EncryptionInfo } from '../../codecs/encryption-keys.js';

export enum BackupStatus {
  Queued = 'QUEUED',
  Running = 'RUNNING',
  Completed = 'COMPLETED',
  Verified = 'VERIFIED',
  Corrupted = 'CORRUPTED',
  Failed = 'FAILED',
  Cancelled = 'CANCELLED',
}

/** A backup whose artifact is usable: COMPLETED or VERIFIED. */
export const GOOD_BACKUP_STATUSES: readonly BackupStatus[] = [BackupStatus.Completed, BackupStatus.Verified];

/** A backup that can be verified (again): COMPLETED, VERIFIED or CORRUPTED. */
export const VERIFIABLE_BACKUP_STATUSES: readonly BackupStatus[] = [BackupStatus.Completed, BackupStatus.Verified, BackupStatus.Corrupted];

export enum BackupType {
  Manual = 'manual',
  Daily = 'daily',
  Weekly = 'weekly',
  Monthly = 'monthly',
}

/**
 * The condition of the catalog's partial indexes: records not soft-deleted, which every list,
 * statistic and retention plan reads. On MySQL/MariaDB, which have no partial indexes, such an
 * index leads with `deletedAt` instead (see `catalogEntitySchemas`).
 */
export const LIVE_ROWS = '"deletedAt" IS NULL';

/** One backup: its request, its run and its artifact. */
@Entity('backup_records')
@Index('idx_backup_records_target_created', ['target', 'createdAt'])
@Index('idx_backup_records_status', ['status'])
@Index('idx_backup_records_type', ['type'])
@Index('idx_backup_records_expires', ['expiresAt'])
// Lists, newest first, by each filter (and none); deep pages and cursors seek in them.
@Index('idx_backup_records_live_created', ['createdAt', 'id'], { where: LIVE_ROWS })
@Index('idx_backup_records_live_target', ['target', 'createdAt', 'id'], { where: LIVE_ROWS })
@Index('idx_backup_records_live_status', ['status', 'createdAt', 'id'], { where: LIVE_ROWS })
@Index('idx_backup_records_live_type', ['type', 'createdAt', 'id'], { where: LIVE_ROWS })
// `includeDeleted` lists.
@Index('idx_backup_records_created', ['createdAt', 'id'])
// Statistics and metrics: every column they read, so they scan this index, never the table.
@Index('idx_backup_records_live_summary', ['target', 'type', 'status', 'createdAt', 'verifiedAt', 'sizeBytes', 'compressionRatio', 'durationMs'], { where: LIVE_ROWS })
// The newest verification (a maximum the trigger-kept totals cannot hold).
@Index('idx_backup_records_live_verified', ['verifiedAt'], { where: LIVE_ROWS })
export class BackupRecord {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  type!: BackupType;

  @Column({ type: 'varchar', length: 16 })
  status!: BackupStatus;

  @Column({ type: 'varchar', length: 64 })
  target!: string;

  @Column({ type: 'varchar', length: 16 })
  engine!: EngineKind;

  /** `full`, `partial` or `selective`. */
  @Column({ type: 'varchar', length: 16, default: 'full' })
  scope!: BackupScopeKind;

  @Column({ type: 'simple-json', nullable: true })
  tables!: string[] | null;

  @Column({ type: 'boolean', default: true })
  includeSchema!: boolean;

  @Column({ type: 'boolean', default: true })
  includeData!: boolean;

  /** Dump format: `plain` SQL or a `custom` archive. */
  @Column({ type: 'varchar', length: 16, default: 'plain' })
  format!: DumpFormat;

  @Column({ type: 'varchar', length: 8 })
  compression!: Compression;

  /** Whether the artifact is encrypted (age): decided when the backup is requested. */
  @Column({ type: 'boolean', default: false })
  encrypted!: boolean;

  /** How the artifact is encrypted: format, mode and the recipients' public keys; set on commit. Never a key. */
  @Column({ type: 'simple-json', nullable: true })
  encryption!: EncryptionInfo | null;

  /** Storage key of the artifact; set when an attempt commits it. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  fileKey!: string | null;

  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  sizeBytes!: number | null;

  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  rawBytes!: number | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  checksum!: string | null;

  @Column({ type: Date, nullable: true })
  startedAt!: Date | null;

  @Column({ type: Date, nullable: true })
  completedAt!: Date | null;

  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  durationMs!: number | null;

  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  databaseSizeBytes!: number | null;

  @Column({ type: 'int', nullable: true })
  tableCount!: number | null;

  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  rowEstimate!: number | null;

  @Column({ type: 'double precision', nullable: true })
  compressionRatio!: number | null;

  @Column({ type: 'varchar', length: 128 })
  triggeredBy!: string;

  @Column({ type: 'varchar', length: 500, nullable: true })
  description!: string | null;

  @Column({ type: 'text', nullable: true })
  errorMessage!: string | null;

  @Column({ type: 'int', nullable: true })
  retentionDays!: number | null;

  @Column({ type: Date, nullable: true })
  expiresAt!: Date | null;

  @Column({ type: 'boolean', default: false })
  pinned!: boolean;

  @Column({ type: Date, nullable: true })
  verifiedAt!: Date | null;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ type: 'simple-json', nullable: true })
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  metadata!: Record<string, any> | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;

  @DeleteDateColumn({ nullable: true })
  deletedAt!: Date | null;
}
