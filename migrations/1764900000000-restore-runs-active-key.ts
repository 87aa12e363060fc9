import { TableColumn, TableIndex, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';

/**
 * `restore_runs.activeKey`: the destination database's key while a run is QUEUED or RUNNING, NULL
 * after, under a UNIQUE index, so that two restores of one database can never both be queued.
 * Runs already queued or running when this runs keep NULL (they do not block new requests).
 * A table adopted from an unprefixed catalog may have both already.
 */
export class RestoreRunsActiveKey1764900000000 extends CatalogMigration {
  name = 'RestoreRunsActiveKey1764900000000';

  async up(qr: QueryRunner): Promise<void> {
    const table = this.t('restore_runs');
    if (!(await qr.hasColumn(table, 'activeKey'))) {
      await qr.addColumn(table, new TableColumn({ name: 'activeKey', type: 'varchar', length: '128', isNullable: true }));
    }
    const index = this.t('uq_restore_runs_active_key');
    if (!(await qr.getTable(table))!.indices.some((i) => i.name === index)) {
      await qr.createIndex(table, new TableIndex({ name: index, columnNames: ['activeKey'], isUnique: true }));
    }
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropIndex(this.t('restore_runs'), this.t('uq_restore_runs_active_key'));
    await qr.dropColumn(this.t('restore_runs'), 'activeKey');
  }
}
