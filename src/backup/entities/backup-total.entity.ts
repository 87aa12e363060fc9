import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../../catalog/column-transformers.js';

/**
 * The live (not soft-deleted) records of one target, type and status: how many, and the sums
 * behind `/backups/stats` (each over the records where the column is set, with how many those
 * are). Read-only for the code: the catalog's own triggers keep it (migration
 * `BackupTotals1796400000000`) in the same transaction as each write of a record, whichever
 * process or tool makes it. A row may hold zeros.
 */
@Entity('backup_totals')
export class BackupTotal {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  target!: string;

  @PrimaryColumn({ type: 'varchar', length: 16 })
  type!: string;

  @PrimaryColumn({ type: 'varchar', length: 16 })
  status!: string;

  @Column({ type: 'int' })
  n!: number;

  /** Sum of `sizeBytes`. */
  @Column({ type: 'bigint', transformer: bigintNumber })
  sizeBytes!: number;

  /** Sum of `compressionRatio`, over `ratioN` records. */
  @Column({ type: 'double precision' })
  ratioSum!: number;

  @Column({ type: 'int' })
  ratioN!: number;

  /** Sum of `durationMs`, over `durationN` records. */
  @Column({ type: 'bigint', transformer: bigintNumber })
  durationSum!: number;

  @Column({ type: 'int' })
  durationN!: number;

  /** Records with a `verifiedAt`. */
  @Column({ type: 'int' })
  verifiedN!: number;
}
