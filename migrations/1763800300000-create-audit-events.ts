import { Table, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';
import { columnTypes } from './column-types.js';

/** The append-only audit trail. */
export class CreateAuditEvents1763800300000 extends CatalogMigration {
  name = 'CreateAuditEvents1763800300000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    await this.createOrAdopt(
      qr,
      'audit_events',
      new Table({
        name: this.t('audit_events'),
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'occurredAt', ...t.timestamp },
          { name: 'actorId', type: 'varchar', length: '128' },
          { name: 'actorName', type: 'varchar', length: '128', isNullable: true },
          { name: 'actorRole', type: 'varchar', length: '16', isNullable: true },
          { name: 'action', type: 'varchar', length: '64' },
          { name: 'resourceType', type: 'varchar', length: '32', isNullable: true },
          { name: 'resource', type: 'varchar', length: '255', isNullable: true },
          { name: 'outcome', type: 'varchar', length: '16' },
          { name: 'severity', type: 'varchar', length: '16' },
          { name: 'requestId', type: 'varchar', length: '64', isNullable: true },
          { name: 'clientIp', type: 'varchar', length: '64', isNullable: true },
          { name: 'metadata', type: 'text', isNullable: true },
        ],
        indices: [
          { name: this.t('idx_audit_events_occurred'), columnNames: ['occurredAt'] },
          { name: this.t('idx_audit_events_action'), columnNames: ['action'] },
          { name: this.t('idx_audit_events_actor'), columnNames: ['actorId'] },
          { name: this.t('idx_audit_events_resource'), columnNames: ['resource'] },
        ],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable(this.t('audit_events'), true, true, true);
  }
}
