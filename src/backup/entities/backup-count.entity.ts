import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * How many records a target has in each status, soft-deleted ones left out: what `/metrics`
 * reports without counting the catalog. Read-only for the code: the catalog's own triggers keep it
 * (migration `BackupCounts1796320000000`), in the same transaction as each insert, delete, status
 * change, soft delete and undelete of a record, whichever process or tool writes it. A row may
 * hold 0.
 */
@Entity('backup_counts')
export class BackupCount {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  target!: string;

  @PrimaryColumn({ type: 'varchar', length: 16 })
  status!: string;

  @Column({ type: 'int' })
  n!: number;
}
