import { TableColumn, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';

/** `schedules.storages`: the destinations of a schedule's backups (JSON array; null: the target's, else the defaults). */
export class ScheduleStorages1796316000000 extends CatalogMigration {
  name = 'ScheduleStorages1796316000000';

  async up(qr: QueryRunner): Promise<void> {
    const schedules = this.t('schedules');
    if (!(await qr.hasColumn(schedules, 'storages'))) await qr.addColumn(schedules, new TableColumn({ name: 'storages', type: 'text', isNullable: true }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn(this.t('schedules'), 'storages');
  }
}
