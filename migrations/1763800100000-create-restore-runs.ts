import { Table, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';
import { columnTypes } from './column-types.js';

/** Restore runs. Written with the Table API so it runs on SQLite, PostgreSQL and MySQL. */
export class CreateRestoreRuns1763800100000 extends CatalogMigration {
  name = 'CreateRestoreRuns1763800100000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    await this.createOrAdopt(
      qr,
      'restore_runs',
      new Table({
        name: this.t('restore_runs'),
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'backupId', type: 'varchar', length: '36' },
          { name: 'target', type: 'varchar', length: '64' },
          { name: 'engine', type: 'varchar', length: '16' },
          { name: 'database', type: 'varchar', length: '64' },
          { name: 'intoOtherDatabase', type: t.boolean, default: t.false },
          { name: 'dropExisting', type: t.boolean, default: t.false },
          { name: 'force', type: t.boolean, default: t.false },
          { name: 'safetyBackup', type: t.boolean, default: t.true },
          { name: 'safetyBackupId', type: 'varchar', length: '36', isNullable: true },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'requestedBy', type: 'varchar', length: '128' },
          { name: 'startedAt', ...t.timestamp, isNullable: true },
          { name: 'completedAt', ...t.timestamp, isNullable: true },
          { name: 'durationMs', type: 'bigint', isNullable: true },
          { name: 'errorMessage', type: 'text', isNullable: true },
          { name: 'attempts', type: t.int, default: 0 },
          { name: 'metadata', type: 'text', isNullable: true },
          { name: 'createdAt', ...t.timestamp, default: t.now },
          { name: 'updatedAt', ...t.timestamp, default: t.now, onUpdate: t.onUpdate },
        ],
        indices: [
          { name: this.t('idx_restore_runs_target_created'), columnNames: ['target', 'createdAt'] },
          { name: this.t('idx_restore_runs_status'), columnNames: ['status'] },
          { name: this.t('idx_restore_runs_backup'), columnNames: ['backupId'] },
        ],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable(this.t('restore_runs'), true, true, true);
  }
}
