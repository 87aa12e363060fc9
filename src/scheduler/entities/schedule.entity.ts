import { Column, CreateDateColumn, DeleteDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A recurring backup of one target: when (cron or preset, in a time zone), what, and how long to keep it. */
@Entity('schedules')
@Index('idx_schedules_name', ['name'])
export class Schedule {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'varchar', length: 64 })
  target!: string;

  /** Cron expression (5 fields, or 6 with seconds) as given; null when a preset is used. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  cron!: string | null;

  /** `hourly`, `daily`, `weekly` or `monthly`; null when a cron expression is used. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  preset!: string | null;

  @Column({ type: 'varchar', length: 64 })
  timezone!: string;

  /** Backup type of the backups it requests. */
  @Column({ type: 'varchar', length: 16 })
  type!: string;

  @Column({ type: 'varchar', length: 16, default: 'full' })
  scope!: string;

  @Column({ type: 'simple-json', nullable: true })
  tables!: string[] | null;

  @Column({ type: 'boolean', default: true })
  includeSchema!: boolean;

  @Column({ type: 'boolean', default: true })
  includeData!: boolean;

  @Column({ type: 'varchar', length: 16, nullable: true })
  format!: string | null;

  @Column({ type: 'varchar', length: 8, nullable: true })
  compression!: string | null;

  /** Encrypt its backups (age); null: the target's, else the global default. */
  @Column({ type: 'boolean', nullable: true })
  encrypt!: boolean | null;

  /** Destinations of its backups (`GET /storages`); null: the target's, else the configured defaults. */
  @Column({ type: 'simple-json', nullable: true })
  storages!: string[] | null;

  /** Name of the retention policy its backups fall under; null: the configured default. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  retentionPolicy!: string | null;

  @Column({ type: 'varchar', length: 500, nullable: true })
  description!: string | null;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  /** True for the plans created from configuration on first start. */
  @Column({ type: 'boolean', default: false })
  isDefault!: boolean;

  @Column({ type: Date, nullable: true })
  lastRunAt!: Date | null;

  /** Status of the last backup it requested (refreshed on read), or FAILED when the request failed. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  lastStatus!: string | null;

  @Column({ type: 'varchar', length: 36, nullable: true })
  lastBackupId!: string | null;

  @Column({ type: 'text', nullable: true })
  lastError!: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  createdBy!: string | null;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;

  @DeleteDateColumn({ nullable: true })
  deletedAt!: Date | null;
}
