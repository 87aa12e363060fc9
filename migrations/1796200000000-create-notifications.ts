import { Table, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';
import { columnTypes } from './column-types.js';

/** Notification channels, deliveries (with their attempts) and the conditions that alert. */
export class CreateNotifications1796200000000 extends CatalogMigration {
  name = 'CreateNotifications1796200000000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    const created = { ...t.timestamp, default: t.now };
    const updated = { ...t.timestamp, default: t.now, ...(t.onUpdate ? { onUpdate: t.onUpdate } : {}) };
    await this.createOrAdopt(
      qr,
      'notification_channels',
      new Table({
        name: this.t('notification_channels'),
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'name', type: 'varchar', length: '64' },
          { name: 'kind', type: 'varchar', length: '16' },
          { name: 'enabled', type: t.boolean, default: t.true },
          { name: 'events', type: 'text', isNullable: true },
          { name: 'settings', type: 'text' },
          { name: 'secrets', type: 'text', isNullable: true },
          { name: 'createdBy', type: 'varchar', length: '128', isNullable: true },
          { name: 'createdAt', ...created },
          { name: 'updatedAt', ...updated },
        ],
        indices: [{ name: this.t('idx_notification_channels_name'), columnNames: ['name'], isUnique: true }],
      }),
    );
    await this.createOrAdopt(
      qr,
      'notification_deliveries',
      new Table({
        name: this.t('notification_deliveries'),
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'channelId', type: 'varchar', length: '36' },
          { name: 'channelName', type: 'varchar', length: '64' },
          { name: 'channelKind', type: 'varchar', length: '16' },
          { name: 'event', type: 'varchar', length: '32' },
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'target', type: 'varchar', length: '64', isNullable: true },
          { name: 'subject', type: 'varchar', length: '255' },
          { name: 'notice', type: 'text' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'text', isNullable: true },
          { name: 'deliveredAt', ...t.timestamp, isNullable: true },
          { name: 'createdAt', ...created },
          { name: 'updatedAt', ...updated },
        ],
        indices: [
          { name: this.t('idx_notification_deliveries_created'), columnNames: ['createdAt'] },
          { name: this.t('idx_notification_deliveries_channel'), columnNames: ['channelId', 'createdAt'] },
        ],
      }),
    );
    await this.createOrAdopt(
      qr,
      'notification_conditions',
      new Table({
        name: this.t('notification_conditions'),
        columns: [
          { name: 'key', type: 'varchar', length: '160', isPrimary: true },
          { name: 'event', type: 'varchar', length: '32' },
          { name: 'target', type: 'varchar', length: '64', isNullable: true },
          { name: 'active', type: t.boolean, default: t.false },
          { name: 'firstAt', ...t.timestamp },
          { name: 'lastAt', ...t.timestamp },
          { name: 'alertedAt', ...t.timestamp, isNullable: true },
          { name: 'resolvedAt', ...t.timestamp, isNullable: true },
          { name: 'occurrences', type: t.int, default: 0 },
          { name: 'suppressed', type: t.int, default: 0 },
          { name: 'summary', type: 'varchar', length: '500', isNullable: true },
        ],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const name of ['notification_conditions', 'notification_deliveries', 'notification_channels']) await qr.dropTable(this.t(name), true, true, true);
  }
}
