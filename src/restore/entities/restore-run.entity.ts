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

/** A status a run ends in: everything but QUEUED and RUNNING. */
export type EndedRestoreStatus = Exclude<RestoreStatus, RestoreStatus.Queued | RestoreStatus.Running>;

/**
 * The update that ends a run: its final status plus `activeKey: null`, which frees the
 * destination database for the next restore request. Every update that moves a run out of
 * QUEUED/RUNNING must be built with this (the runner's success and failure paths, the
 * reconciler, a cancel or interrupt path); a run that ends with its key still set blocks restores
 * of its database until the reconciler clears it.
 */
export function endRunUpdate(status: EndedRestoreStatus, fields: Partial<RestoreRun> = {}): Partial<RestoreRun> {
  return { ...fields, status, activeKey: null };
}

/** One restore of a backup into a database: its request, its run and its outcome. */
@Entity('restore_runs')
@Index('idx_restore_runs_target_created', ['target', 'createdAt'])
@Index('uq_restore_runs_active_key', ['activeKey'], { unique: true })
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

  /**
   * The destination's physical database key (`databaseKey()`) while the run is QUEUED or
   * RUNNING, NULL once it ended. A UNIQUE index on it makes "one restore per database" atomic:
   * a second insert for the same database fails on every catalog engine (NULLs never collide).
   */
  @Column({ type: 'varchar', length: 128, nullable: true })
  activeKey!: string | null;

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
