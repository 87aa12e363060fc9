import type { QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';

/**
 * Drops `idx_backup_records_live_target_verified` (`target`, `verifiedAt`), which a first version
 * of `BackupTotals1796400000000` created: without statistics SQLite chose it for per-target queries
 * ordered by `createdAt` (the newest good backup of each target, for `/metrics`) and sorted all of
 * a target's records. A no-op where that version never ran.
 */
export class DropTargetVerifiedIndex1796410000000 extends CatalogMigration {
  name = 'DropTargetVerifiedIndex1796410000000';

  async up(qr: QueryRunner): Promise<void> {
    const table = this.t('backup_records');
    const name = this.t('idx_backup_records_live_target_verified');
    if ((await qr.getTable(table))?.indices.some((i) => i.name === name)) await qr.dropIndex(table, name);
  }

  async down(): Promise<void> {
    // Nothing to bring back: the index was a mistake.
  }
}
