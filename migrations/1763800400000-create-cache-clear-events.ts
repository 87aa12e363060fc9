import { Table, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';
import { columnTypes } from './column-types.js';

/** History of cache clearing. */
export class CreateCacheClearEvents1763800400000 extends CatalogMigration {
  name = 'CreateCacheClearEvents1763800400000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    await this.createOrAdopt(
      qr,
      'cache_clear_events',
      new Table({
        name: this.t('cache_clear_events'),
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'occurredAt', ...t.timestamp },
          { name: 'actorId', type: 'varchar', length: '128' },
          { name: 'actorName', type: 'varchar', length: '128', isNullable: true },
          { name: 'cacheType', type: 'varchar', length: '16' },
          { name: 'keys', type: 'text', isNullable: true },
          { name: 'itemsCleared', type: t.int, default: 0 },
          { name: 'results', type: 'text', isNullable: true },
          { name: 'outcome', type: 'varchar', length: '16' },
          { name: 'durationMs', type: t.int, default: 0 },
        ],
        indices: [{ name: this.t('idx_cache_clear_events_occurred'), columnNames: ['occurredAt'] }],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable(this.t('cache_clear_events'), true, true, true);
  }
}
