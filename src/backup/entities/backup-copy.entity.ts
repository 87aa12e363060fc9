import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../../catalog/column-transformers.js';

/** Where one destination's copy of a backup stands. */
export enum CopyState {
  /** Being written (the backup or a re-copy is running). */
  Writing = 'WRITING',
  /** Written and committed with the backup's size and SHA-256. */
  Stored = 'STORED',
  /** Read back in full and found equal to the recorded SHA-256. */
  Verified = 'VERIFIED',
  /** Could not be written; `errorMessage` says why; a re-copy job may fix it. */
  Failed = 'FAILED',
  /** Read back and found different from the recorded size or SHA-256. */
  Corrupted = 'CORRUPTED',
  /** Gone from its destination. */
  Missing = 'MISSING',
  /** Rebuilt from a manifest whose artifact could not be checked. */
  Unverified = 'UNVERIFIED',
}

/** States whose copy can be read for downloads, restores and verification, best first. */
export const READABLE_COPY_STATES: readonly CopyState[] = [CopyState.Verified, CopyState.Stored, CopyState.Unverified];

/** One backup's copy in one destination (`storages: [...]`): one row per backup and destination. */
@Entity('backup_copies')
@Index('uq_backup_copies_backup_storage', ['backupId', 'storage'], { unique: true })
@Index('idx_backup_copies_state', ['state'])
export class BackupCopy {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  backupId!: string;

  /** The destination's name (`local`, `offsite`, ...). */
  @Column({ type: 'varchar', length: 32 })
  storage!: string;

  /** The artifact's key in that destination. */
  @Column({ type: 'varchar', length: 255 })
  fileKey!: string;

  @Column({ type: 'varchar', length: 16 })
  state!: CopyState;

  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  sizeBytes!: number | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  checksum!: string | null;

  @Column({ type: 'text', nullable: true })
  errorMessage!: string | null;

  @Column({ type: Date, nullable: true })
  verifiedAt!: Date | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;
}
