import { TableIndex, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';

/** The indexes this migration adds: name, columns, and whether they cover only the live (not soft-deleted) records. */
const INDEXES: Array<[name: string, columns: string[], live: boolean]> = [
  ['idx_backup_records_live_created', ['createdAt', 'id'], true],
  ['idx_backup_records_live_target', ['target', 'createdAt', 'id'], true],
  ['idx_backup_records_live_status', ['status', 'createdAt', 'id'], true],
  ['idx_backup_records_live_type', ['type', 'createdAt', 'id'], true],
  ['idx_backup_records_created', ['createdAt', 'id'], false],
  ['idx_backup_records_live_summary', ['target', 'type', 'status', 'createdAt', 'verifiedAt', 'sizeBytes', 'compressionRatio', 'durationMs'], true],
];

/**
 * Indexes for a catalog of many records: each list filter (none, target, status, type) with the
 * list's order (`createdAt`, `id`), on the records not soft-deleted, so a page, a deep page and a
 * cursor are index seeks; the same order over every record for `includeDeleted`; and one index
 * holding every column the statistics and the metrics read. PostgreSQL and SQLite get partial
 * indexes (`WHERE "deletedAt" IS NULL`); MySQL/MariaDB, which have none, get `deletedAt` as the
 * leading column instead.
 */
export class BackupRecordsLiveIndexes1796097124876 extends CatalogMigration {
  name = 'BackupRecordsLiveIndexes1796097124876';

  async up(qr: QueryRunner): Promise<void> {
    const mysql = ['mysql', 'mariadb'].includes(qr.connection.options.type);
    const table = this.t('backup_records');
    const have = new Set((await qr.getTable(table))!.indices.map((i) => i.name));
    for (const [name, columns, live] of INDEXES) {
      if (have.has(this.t(name))) continue;
      const columnNames = live && mysql ? ['deletedAt', ...columns] : columns;
      await qr.createIndex(table, new TableIndex({ name: this.t(name), columnNames, where: live && !mysql ? '"deletedAt" IS NULL' : undefined }));
    }
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const [name] of [...INDEXES].reverse()) await qr.dropIndex(this.t('backup_records'), this.t(name));
  }
}
