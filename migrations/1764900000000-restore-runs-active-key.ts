import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * `restore_runs.activeKey`: the destination database's key while a run is QUEUED or RUNNING, NULL
 * after, under a UNIQUE index, so that two restores of one database can never both be queued.
 * Runs already queued or running when this runs keep NULL (they do not block new requests).
 */
export class RestoreRunsActiveKey1764900000000 implements MigrationInterface {
  name = 'RestoreRunsActiveKey1764900000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.addColumn('restore_runs', new TableColumn({ name: 'activeKey', type: 'varchar', length: '128', isNullable: true }));
    await qr.createIndex('restore_runs', new TableIndex({ name: 'uq_restore_runs_active_key', columnNames: ['activeKey'], isUnique: true }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropIndex('restore_runs', 'uq_restore_runs_active_key');
    await qr.dropColumn('restore_runs', 'activeKey');
  }
}
