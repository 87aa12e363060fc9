import { Table, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';
import { columnTypes } from './column-types.js';

/** The catalog's first table. Written with the Table API so it runs on SQLite, PostgreSQL and MySQL. */
export class CreateBackupRecords1763800000000 extends CatalogMigration {
  name = 'CreateBackupRecords1763800000000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    await this.createOrAdopt(
      qr,
      'backup_records',
      new Table({
        name: this.t('backup_records'),
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'type', type: 'varchar', length: '16' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'target', type: 'varchar', length: '64' },
          { name: 'engine', type: 'varchar', length: '16' },
          { name: 'scope', type: 'varchar', length: '16', default: "'full'" },
          { name: 'tables', type: 'text', isNullable: true },
          { name: 'includeSchema', type: t.boolean, default: t.true },
          { name: 'includeData', type: t.boolean, default: t.true },
          { name: 'format', type: 'varchar', length: '16', default: "'plain'" },
          { name: 'compression', type: 'varchar', length: '8' },
          { name: 'fileKey', type: 'varchar', length: '255', isNullable: true },
          { name: 'sizeBytes', type: 'bigint', isNullable: true },
          { name: 'rawBytes', type: 'bigint', isNullable: true },
          { name: 'checksum', type: 'varchar', length: '64', isNullable: true },
          { name: 'startedAt', ...t.timestamp, isNullable: true },
          { name: 'completedAt', ...t.timestamp, isNullable: true },
          { name: 'durationMs', type: 'bigint', isNullable: true },
          { name: 'databaseSizeBytes', type: 'bigint', isNullable: true },
          { name: 'tableCount', type: t.int, isNullable: true },
          { name: 'rowEstimate', type: 'bigint', isNullable: true },
          { name: 'compressionRatio', type: 'double precision', isNullable: true },
          { name: 'triggeredBy', type: 'varchar', length: '128' },
          { name: 'description', type: 'varchar', length: '500', isNullable: true },
          { name: 'errorMessage', type: 'text', isNullable: true },
          { name: 'retentionDays', type: t.int, isNullable: true },
          { name: 'expiresAt', ...t.timestamp, isNullable: true },
          { name: 'pinned', type: t.boolean, default: t.false },
          { name: 'verifiedAt', ...t.timestamp, isNullable: true },
          { name: 'attempts', type: t.int, default: 0 },
          { name: 'metadata', type: 'text', isNullable: true },
          { name: 'createdAt', ...t.timestamp, default: t.now },
          { name: 'updatedAt', ...t.timestamp, default: t.now, onUpdate: t.onUpdate },
          { name: 'deletedAt', ...t.timestamp, isNullable: true },
        ],
        indices: [
          { name: this.t('idx_backup_records_target_created'), columnNames: ['target', 'createdAt'] },
          { name: this.t('idx_backup_records_status'), columnNames: ['status'] },
          { name: this.t('idx_backup_records_type'), columnNames: ['type'] },
          { name: this.t('idx_backup_records_expires'), columnNames: ['expiresAt'] },
        ],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable(this.t('backup_records'), true, true, true);
  }
}
