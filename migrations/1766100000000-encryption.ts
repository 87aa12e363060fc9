import { TableColumn, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';
import { columnTypes } from './column-types.js';

/**
 * Encryption at rest: `backup_records.encrypted` (decided when the backup is requested) and
 * `backup_records.encryption` (format, mode and the recipients' public keys, set on commit; never
 * a key), and `schedules.encrypt` (null: the target's or the global default).
 */
export class Encryption1766100000000 extends CatalogMigration {
  name = 'Encryption1766100000000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    const records = this.t('backup_records');
    if (!(await qr.hasColumn(records, 'encrypted'))) await qr.addColumn(records, new TableColumn({ name: 'encrypted', type: t.boolean, default: t.false }));
    if (!(await qr.hasColumn(records, 'encryption'))) await qr.addColumn(records, new TableColumn({ name: 'encryption', type: 'text', isNullable: true }));
    const schedules = this.t('schedules');
    if (!(await qr.hasColumn(schedules, 'encrypt'))) await qr.addColumn(schedules, new TableColumn({ name: 'encrypt', type: t.boolean, isNullable: true }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn(this.t('schedules'), 'encrypt');
    await qr.dropColumn(this.t('backup_records'), 'encryption');
    await qr.dropColumn(this.t('backup_records'), 'encrypted');
  }
}
