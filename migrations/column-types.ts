import type { QueryRunner } from 'typeorm';

/**
 * Column types that differ between the catalog's three databases, spelled as TypeORM reads them
 * back, so that the entities (`catalogEntitySchemas`) and a migrated catalog never differ.
 */
export function columnTypes(qr: QueryRunner) {
  const type = qr.connection.options.type;
  if (type === 'postgres') {
    return {
      timestamp: { type: 'timestamptz', precision: 3 },
      boolean: 'boolean',
      true: 'true',
      false: 'false',
      now: 'now()',
      int: 'int',
      onUpdate: undefined,
    };
  }
  if (type === 'mysql' || type === 'mariadb') {
    return {
      timestamp: { type: 'datetime', precision: 3 },
      boolean: 'tinyint',
      true: '1',
      false: '0',
      now: 'CURRENT_TIMESTAMP(3)',
      int: 'int',
      // TypeORM keeps an update-date column current on MySQL with ON UPDATE; the entity expects it.
      onUpdate: 'CURRENT_TIMESTAMP(3)',
    };
  }
  return { timestamp: { type: 'datetime' }, boolean: 'boolean', true: '1', false: '0', now: "datetime('now')", int: 'integer', onUpdate: undefined };
}
