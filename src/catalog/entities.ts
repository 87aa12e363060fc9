import { EntitySchema, getMetadataArgsStorage, type ColumnType, type EntitySchemaColumnOptions, type EntitySchemaIndexOptions } from 'typeorm';
import { ACCOUNT_ENTITIES } from '../accounts/entities/index.js';
import { AUDIT_ENTITIES } from '../audit/entities/index.js';
import { BackupCopy } from '../backup/entities/backup-copy.entity.js';
import { BackupRecord, LIVE_ROWS } from '../backup/entities/backup-record.entity.js';
import { BackupTotal } from '../backup/entities/backup-total.entity.js';
import { CACHE_ENTITIES } from '../cache/entities/index.js';
import { NOTIFICATION_ENTITIES } from '../notifications/entities/index.js';
import { RESTORE_ENTITIES } from '../restore/entities/index.js';
import { SCHEDULER_ENTITIES } from '../scheduler/entities/index.js';
import { DEFAULTS } from '../config/defaults.js';

/** Every catalog entity class (repository tokens; `ds.getRepository(BackupRecord)`). */
export const CATALOG_ENTITIES = [BackupRecord, BackupCopy, BackupTotal, ...RESTORE_ENTITIES, ...SCHEDULER_ENTITIES, ...AUDIT_ENTITIES, ...CACHE_ENTITIES, ...ACCOUNT_ENTITIES, ...NOTIFICATION_ENTITIES];

/** Prefix of the catalog's table and index names unless `catalog.tablePrefix` says otherwise. */
export const DEFAULT_TABLE_PREFIX = DEFAULTS.catalog.tablePrefix;

/** The table prefix of a catalog's options. */
export function tablePrefixOf(o: { tablePrefix?: string }): string {
  return o.tablePrefix ?? DEFAULT_TABLE_PREFIX;
}

/** Engines the catalog runs on, as TypeORM's `type`. */
export type CatalogDbType = 'postgres' | 'mysql' | 'mariadb' | 'better-sqlite3';

/**
 * Name of the table holding the catalog's migration history: `<prefix>migrations`, or
 * `backup_manager_migrations` without a prefix (never a host's own `migrations`).
 */
export function catalogMigrationsTable(prefix: string): string {
  return `${prefix || 'backup_manager_'}migrations`;
}

/**
 * The catalog's tables as TypeORM saw them before this function: one name per catalog table,
 * without the prefix (restores and dumps leave these alone when the catalog shares a database).
 */
export function catalogTableNames(prefix: string): string[] {
  const storage = getMetadataArgsStorage();
  return [...CATALOG_ENTITIES.map((e) => prefix + storage.filterTables(e)[0].name!), catalogMigrationsTable(prefix)];
}

/**
 * The entities of a catalog on one engine, with the table prefix applied. The classes carry
 * engine-neutral decorators; this turns them into schemas (same classes as targets, so
 * repositories are still looked up by class) whose timestamps are the exact types the migrations
 * create: `timestamptz(3)` on PostgreSQL, `datetime(3)` on MySQL/MariaDB, `datetime` on SQLite.
 * A diff between these entities and a migrated catalog is empty (see test/migrations.spec.ts).
 */
export function catalogEntitySchemas(type: CatalogDbType, prefix: string): EntitySchema[] {
  const storage = getMetadataArgsStorage();
  const { now, onUpdate, ...time } = timestampColumn(type);
  return CATALOG_ENTITIES.map((target) => {
    const table = storage.filterTables(target)[0];
    const columns: Record<string, EntitySchemaColumnOptions> = {};
    for (const c of storage.filterColumns(target)) {
      const dated = c.options.type === Date || c.mode === 'createDate' || c.mode === 'updateDate' || c.mode === 'deleteDate';
      columns[c.propertyName] = {
        ...(c.options as EntitySchemaColumnOptions),
        ...(dated ? time : {}),
        ...(c.mode === 'createDate' || c.mode === 'updateDate' ? { default: () => now } : {}),
        ...(c.mode === 'updateDate' && onUpdate ? { onUpdate } : {}),
        type: (dated ? time.type : c.options.type) as ColumnType,
        primary: c.options.primary || undefined,
        createDate: c.mode === 'createDate' || undefined,
        updateDate: c.mode === 'updateDate' || undefined,
        deleteDate: c.mode === 'deleteDate' || undefined,
      } as EntitySchemaColumnOptions;
    }
    const indices: EntitySchemaIndexOptions[] = storage.filterIndices(target).map((i) => ({
      name: prefix + i.name!,
      ...partialIndex(type, i.columns as string[], i.where),
      unique: i.unique || undefined,
    }));
    return new EntitySchema({ name: target.name, target, tableName: prefix + table.name!, columns, indices });
  });
}

/**
 * An index's columns and condition on one engine. MySQL/MariaDB have no partial indexes: an index
 * on the live rows (`LIVE_ROWS`) leads with `deletedAt` there, which `deletedAt IS NULL` seeks
 * like an equality, so the same queries use it for their filter and their order.
 */
export function partialIndex(type: CatalogDbType, columns: string[], where: string | undefined): { columns: string[]; where?: string } {
  if (!where) return { columns };
  if (where !== LIVE_ROWS) throw new Error(`catalog index condition ${where}: only ${LIVE_ROWS} is supported`);
  return type === 'mysql' || type === 'mariadb' ? { columns: ['deletedAt', ...columns] } : { columns, where };
}

function timestampColumn(type: CatalogDbType): { type: ColumnType; precision?: number; now: string; onUpdate?: string } {
  if (type === 'postgres') return { type: 'timestamptz', precision: 3, now: 'now()' };
  if (type === 'mysql' || type === 'mariadb') return { type: 'datetime', precision: 3, now: 'CURRENT_TIMESTAMP(3)', onUpdate: 'CURRENT_TIMESTAMP(3)' };
  return { type: 'datetime', now: "datetime('now')" };
}
