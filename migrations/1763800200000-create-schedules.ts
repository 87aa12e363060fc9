import { Table, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';
import { columnTypes } from './column-types.js';

/** Schedules of the scheduler module. */
export class CreateSchedules1763800200000 extends CatalogMigration {
  name = 'CreateSchedules1763800200000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    await this.createOrAdopt(
      qr,
      'schedules',
      new Table({
        name: this.t('schedules'),
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'name', type: 'varchar', length: '64' },
          { name: 'target', type: 'varchar', length: '64' },
          { name: 'cron', type: 'varchar', length: '128', isNullable: true },
          { name: 'preset', type: 'varchar', length: '16', isNullable: true },
          { name: 'timezone', type: 'varchar', length: '64' },
          { name: 'type', type: 'varchar', length: '16' },
          { name: 'scope', type: 'varchar', length: '16', default: "'full'" },
          { name: 'tables', type: 'text', isNullable: true },
          { name: 'includeSchema', type: t.boolean, default: t.true },
          { name: 'includeData', type: t.boolean, default: t.true },
          { name: 'format', type: 'varchar', length: '16', isNullable: true },
          { name: 'compression', type: 'varchar', length: '8', isNullable: true },
          { name: 'retentionPolicy', type: 'varchar', length: '64', isNullable: true },
          { name: 'description', type: 'varchar', length: '500', isNullable: true },
          { name: 'enabled', type: t.boolean, default: t.true },
          { name: 'isDefault', type: t.boolean, default: t.false },
          { name: 'lastRunAt', ...t.timestamp, isNullable: true },
          { name: 'lastStatus', type: 'varchar', length: '16', isNullable: true },
          { name: 'lastBackupId', type: 'varchar', length: '36', isNullable: true },
          { name: 'lastError', type: 'text', isNullable: true },
          { name: 'createdBy', type: 'varchar', length: '128', isNullable: true },
          { name: 'createdAt', ...t.timestamp, default: t.now },
          { name: 'updatedAt', ...t.timestamp, default: t.now, onUpdate: t.onUpdate },
          { name: 'deletedAt', ...t.timestamp, isNullable: true },
        ],
        indices: [{ name: this.t('idx_schedules_name'), columnNames: ['name'] }],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable(this.t('schedules'), true, true, true);
  }
}
