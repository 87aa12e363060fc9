import type { QueryRunner } from 'typeorm';
import { BackupCounts1796320000000 } from './1796320000000-backup-counts.js';
import { CatalogMigration } from './catalog-migration.js';

/**
 * Drops `backup_counts` and the triggers (and, on PostgreSQL, the function) that keep it: the
 * same live-record counts per target and status are the sums of `backup_totals` over the types,
 * which `/metrics` reads now, so every record write no longer keeps both. `down` brings them back
 * as `BackupCounts1796320000000` made them, counted again from the records.
 */
export class DropBackupCounts1796420000000 extends CatalogMigration {
  name = 'DropBackupCounts1796420000000';

  async up(qr: QueryRunner): Promise<void> {
    await this.counts().down(qr);
  }

  async down(qr: QueryRunner): Promise<void> {
    await this.counts().up(qr);
  }

  /** The migration that made the table, on this catalog's prefix. */
  private counts(): BackupCounts1796320000000 {
    return Object.assign(new BackupCounts1796320000000(), { tablePrefix: this.tablePrefix });
  }
}
