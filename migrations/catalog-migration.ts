import { TableIndex, type MigrationInterface, type QueryRunner, type Table } from 'typeorm';

/**
 * A catalog migration. Table and index names carry the catalog's prefix (`catalog.tablePrefix`),
 * which `catalogMigrations(prefix)` sets on a subclass; the recorded `name` stays the same.
 */
export abstract class CatalogMigration implements MigrationInterface {
  abstract name: string;
  tablePrefix = '';

  abstract up(qr: QueryRunner): Promise<void>;
  abstract down(qr: QueryRunner): Promise<void>;

  /** A catalog table's name with the prefix. */
  protected t(name: string): string {
    return this.tablePrefix + name;
  }

  /**
   * Creates `table` (its name prefixed), or adopts the unprefixed table of the same name that a
   * catalog made before prefixes existed: renamed, its indexes renamed. An unprefixed table that
   * lacks any of `table`'s columns is someone else's (a host's own `schedules`) and stays as is.
   */
  protected async createOrAdopt(qr: QueryRunner, legacyName: string, table: Table): Promise<void> {
    if (await adoptLegacyTable(qr, this.tablePrefix, legacyName, table)) return;
    await qr.createTable(table, false, true, true);
  }
}

async function adoptLegacyTable(qr: QueryRunner, prefix: string, legacyName: string, table: Table): Promise<boolean> {
  if (!prefix || (await qr.hasTable(table.name)) || !(await qr.hasTable(legacyName))) return false;
  const legacy = (await qr.getTable(legacyName))!;
  const have = new Set(legacy.columns.map((c) => c.name));
  if (!table.columns.every((c) => have.has(c.name))) return false;
  await qr.renameTable(legacyName, table.name);
  const renamed = (await qr.getTable(table.name))!;
  // A copy: dropIndex takes the index out of `renamed.indices`.
  for (const index of [...renamed.indices]) {
    if (!index.name || index.name.startsWith(prefix)) continue;
    await qr.dropIndex(renamed, index);
    await qr.createIndex(renamed, new TableIndex({ name: prefix + index.name, columnNames: index.columnNames, isUnique: index.isUnique }));
  }
  return true;
}
