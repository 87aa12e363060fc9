import { Table, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';
import { columnTypes } from './column-types.js';

/** Dashboard accounts: users, their sessions, and API tokens (hashes only). */
export class CreateAccounts1766519000000 extends CatalogMigration {
  name = 'CreateAccounts1766519000000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    await this.createOrAdopt(
      qr,
      'users',
      new Table({
        name: this.t('users'),
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'username', type: 'varchar', length: '64' },
          { name: 'role', type: 'varchar', length: '16' },
          { name: 'passwordHash', type: 'varchar', length: '100' },
          { name: 'disabled', type: t.boolean, default: t.false },
          { name: 'failedLogins', type: t.int, default: 0 },
          { name: 'lockedUntil', ...t.timestamp, isNullable: true },
          { name: 'lastLoginAt', ...t.timestamp, isNullable: true },
          { name: 'sessionsValidAfter', ...t.timestamp, isNullable: true },
          { name: 'createdAt', ...t.timestamp, default: t.now },
          { name: 'updatedAt', ...t.timestamp, default: t.now, onUpdate: t.onUpdate },
        ],
        indices: [{ name: this.t('uq_users_username'), columnNames: ['username'], isUnique: true }],
      }),
    );
    await this.createOrAdopt(
      qr,
      'sessions',
      new Table({
        name: this.t('sessions'),
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'userId', type: 'varchar', length: '36' },
          { name: 'createdAt', ...t.timestamp },
          { name: 'expiresAt', ...t.timestamp },
          { name: 'endedAt', ...t.timestamp, isNullable: true },
          { name: 'clientIp', type: 'varchar', length: '64', isNullable: true },
        ],
        indices: [{ name: this.t('idx_sessions_user'), columnNames: ['userId'] }],
      }),
    );
    await this.createOrAdopt(
      qr,
      'api_tokens',
      new Table({
        name: this.t('api_tokens'),
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'userId', type: 'varchar', length: '36' },
          { name: 'name', type: 'varchar', length: '64' },
          { name: 'tokenHash', type: 'varchar', length: '64' },
          { name: 'prefix', type: 'varchar', length: '16' },
          { name: 'role', type: 'varchar', length: '16' },
          { name: 'createdAt', ...t.timestamp },
          { name: 'expiresAt', ...t.timestamp, isNullable: true },
          { name: 'lastUsedAt', ...t.timestamp, isNullable: true },
          { name: 'revokedAt', ...t.timestamp, isNullable: true },
        ],
        indices: [
          { name: this.t('uq_api_tokens_hash'), columnNames: ['tokenHash'], isUnique: true },
          { name: this.t('idx_api_tokens_user'), columnNames: ['userId'] },
        ],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const name of ['api_tokens', 'sessions', 'users']) await qr.dropTable(this.t(name), true, true, true);
  }
}
