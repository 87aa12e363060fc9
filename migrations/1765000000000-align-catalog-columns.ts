import { TableColumn, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';

const DATED = ['backup_records', 'restore_runs', 'schedules'];
const ALL = [...DATED, 'audit_events', 'cache_clear_events'];

/**
 * Brings a catalog created by an older version to exactly what the entities declare (catalogs
 * created since get it from the first migrations, and this changes nothing there):
 * PostgreSQL `createdAt`/`updatedAt` default `now()`; MySQL/MariaDB `updatedAt ... ON UPDATE
 * CURRENT_TIMESTAMP(3)`; SQLite `integer` columns and `datetime('now')` defaults (a table rebuild
 * by TypeORM, rows kept). Without it, `synchronize` or `migration:generate` would want to change them.
 */
export class AlignCatalogColumns1765000000000 extends CatalogMigration {
  name = 'AlignCatalogColumns1765000000000';

  async up(qr: QueryRunner): Promise<void> {
    const type = qr.connection.options.type;
    if (type === 'postgres') {
      for (const t of DATED) {
        for (const c of ['createdAt', 'updatedAt']) await qr.query(`ALTER TABLE "${this.t(t)}" ALTER COLUMN "${c}" SET DEFAULT now()`);
      }
    } else if (type === 'mysql' || type === 'mariadb') {
      for (const t of DATED) {
        await qr.query(`ALTER TABLE \`${this.t(t)}\` MODIFY \`updatedAt\` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)`);
      }
    } else {
      for (const t of ALL) {
        const table = (await qr.getTable(this.t(t)))!;
        const changes = table.columns
          .filter((c) => c.type === 'int' || c.default === "(datetime('now'))")
          .map((oldColumn) => {
            const newColumn = new TableColumn({ ...oldColumn, type: oldColumn.type === 'int' ? 'integer' : oldColumn.type });
            if (oldColumn.default === "(datetime('now'))") newColumn.default = "datetime('now')";
            return { oldColumn, newColumn };
          });
        if (changes.length) await qr.changeColumns(table, changes);
      }
    }
  }

  async down(): Promise<void> {
    // The older shapes were never needed by anything: nothing to undo.
  }
}
