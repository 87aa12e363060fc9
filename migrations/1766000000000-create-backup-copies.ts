import { Table, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';
import { columnTypes } from './column-types.js';

/** One row per backup and destination: where each copy of a backup stands. */
export class CreateBackupCopies1766000000000 extends CatalogMigration {
  name = 'CreateBackupCopies1766000000000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    await this.createOrAdopt(
      qr,
      'backup_copies',
      new Table({
        name: this.t('backup_copies'),
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'backupId', type: 'varchar', length: '36' },
          { name: 'storage', type: 'varchar', length: '32' },
          { name: 'fileKey', type: 'varchar', length: '255' },
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'sizeBytes', type: 'bigint', isNullable: true },
          { name: 'checksum', type: 'varchar', length: '64', isNullable: true },
          { name: 'errorMessage', type: 'text', isNullable: true },
          { name: 'verifiedAt', ...t.timestamp, isNullable: true },
          { name: 'createdAt', ...t.timestamp, default: t.now },
          { name: 'updatedAt', ...t.timestamp, default: t.now, onUpdate: t.onUpdate },
        ],
        indices: [
          { name: this.t('uq_backup_copies_backup_storage'), columnNames: ['backupId', 'storage'], isUnique: true },
          { name: this.t('idx_backup_copies_state'), columnNames: ['state'] },
        ],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable(this.t('backup_copies'), true, true, true);
  }
}
