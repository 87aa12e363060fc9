import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/** History of cache clearing. */
export class CreateCacheClearEvents1763800400000 implements MigrationInterface {
  name = 'CreateCacheClearEvents1763800400000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    await qr.createTable(
      new Table({
        name: 'cache_clear_events',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'occurredAt', ...t.timestamp },
          { name: 'actorId', type: 'varchar', length: '128' },
          { name: 'actorName', type: 'varchar', length: '128', isNullable: true },
          { name: 'cacheType', type: 'varchar', length: '16' },
          { name: 'keys', type: 'text', isNullable: true },
          { name: 'itemsCleared', type: 'int', default: 0 },
          { name: 'results', type: 'text', isNullable: true },
          { name: 'outcome', type: 'varchar', length: '16' },
          { name: 'durationMs', type: 'int', default: 0 },
        ],
      }),
    );
    await qr.createIndex('cache_clear_events', new TableIndex({ name: 'idx_cache_clear_events_occurred', columnNames: ['occurredAt'] }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable('cache_clear_events', true, true, true);
  }
}
