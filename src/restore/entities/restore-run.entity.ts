import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../../catalog/column-transformers.js';

export enum RestoreStatus {
  Queued = 'QUEUED',
  Running = 'RUNNING',
  Completed = 'COMPLETED',
  Failed = 'FAILED',
  /** Stopped by a worker shutdown before it committed; `errorMessage` says what the destination holds. */
  Cancelled = 'CANCELLED',
}

/** Statuses a run never leaves. */
export const FINAL_RESTORE_STATUSES = [RestoreStatus.Completed, RestoreStatus.Failed, RestoreStatus.Cancelled];

/** One restore of a backup into a database: its request, its run and its outcome. */
@Entity('restore_runs')
@Index('idx_restore_runs_target_created', ['target', 'createdAt'])
@Index('idx_restore_runs_status', ['status'])
@Index('idx_restore_runs_backup', ['backupId'])
export class RestoreRun {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  backupId!: string;

  @Column({ type: 'varchar', length: 64 })
  target!: string;

  @Column({ type: 'varchar', length: 16 })
  engine!: string;

  /** The database restored into: the target's own, or `targetDatabase` from the request. */
  @Column({ type: 'varchar', length: 64 })
  database!: string;

  /** True when `database` is not the target's own database. */
  @Column({ type: 'boolean', default: false })
  intoOtherDatabase!: boolean;

  @Column({ type: 'boolean', default: false })
  dropExisting!: boolean;

  @Column({ type: 'boolean', default: false })
  force!: boolean;

  /** Whether a safety backup was asked for (only taken when restoring over the target's own database). */
  @Column({ type: 'boolean', default: true })
  safetyBackup!: boolean;

  @Column({ type: 'varchar', length: 36, nullable: true })
  safetyBackupId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  status!: RestoreStatus;

  @Column({ type: 'varchar', length: 128 })
  requestedBy!: string;

  @Column({ type: Date, nullable: true })
  startedAt!: Date | null;

  @Column({ type: Date, nullable: true })
  completedAt!: Date | null;

  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  durationMs!: number | null;

  @Column({ type: 'text', nullable: true })
  errorMessage!: string | null;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ type: 'simple-json', nullable: true })
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  metadata!: Record<string, any> | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;
}
