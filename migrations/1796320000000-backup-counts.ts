import { Table, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';
import { columnTypes } from './column-types.js';
import { mysqlTriggerRefused } from './mysql-triggers.js';

/**
 * `backup_counts`: records per target and status, soft-deleted ones left out, so that `/metrics`
 * reads a few hundred rows instead of counting the catalog at every scrape. Triggers on
 * `backup_records` keep it in the same transaction as each write (insert, delete, and an update
 * of `target`, `status` or `deletedAt`), so every writer (any process, version or tool) keeps it
 * right; the migration fills it from the records already there.
 *
 * When one update moves a record between two counters, the triggers take the two rows' locks in
 * one order (the smaller key first), so opposite moves at the same time never deadlock.
 *
 * NOTE: on MySQL with binary logging on, creating a trigger needs the SUPER privilege or
 * `log_bin_trust_function_creators=1`; without either the migration stops and says so.
 */
export class BackupCounts1796320000000 extends CatalogMigration {
  name = 'BackupCounts1796320000000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    const counts = this.t('backup_counts');
    // An unprefixed catalog's counts (its records are adopted under the prefix): counted again below.
    if (this.tablePrefix && (await qr.hasTable('backup_counts'))) await dropCounts(qr, '', this.t('backup_records'));
    await qr.createTable(
      new Table({
        name: counts,
        columns: [
          { name: 'target', type: 'varchar', length: '64', isPrimary: true },
          { name: 'status', type: 'varchar', length: '16', isPrimary: true },
          { name: 'n', type: t.int },
        ],
      }),
      true,
    );
    const type = qr.connection.options.type;
    const statements = type === 'postgres' ? this.postgres() : type === 'mysql' || type === 'mariadb' ? this.mysql() : this.sqlite();
    try {
      for (const sql of statements) await qr.query(sql);
    } catch (e) {
      throw mysqlTriggerRefused(e, this.name) ?? e;
    }
    const q = (n: string) => qr.connection.driver.escape(n);
    // Triggers first, then the fill: in one transaction on PostgreSQL and SQLite, so no write falls between.
    await qr.query(`DELETE FROM ${q(counts)}`);
    await qr.query(
      `INSERT INTO ${q(counts)} (${q('target')}, ${q('status')}, ${q('n')}) SELECT ${q('target')}, ${q('status')}, COUNT(*) FROM ${q(this.t('backup_records'))} WHERE ${q('deletedAt')} IS NULL GROUP BY ${q('target')}, ${q('status')}`,
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await dropCounts(qr, this.tablePrefix, this.t('backup_records'));
  }

  private postgres(): string[] {
    const cnt = `"${this.t('backup_counts')}"`;
    const fn = `"${this.t('backup_counts_follow')}"`;
    const add = `INSERT INTO ${cnt} AS c ("target", "status", "n") VALUES (NEW."target", NEW."status", 1) ON CONFLICT ("target", "status") DO UPDATE SET "n" = c."n" + 1;`;
    const sub = `UPDATE ${cnt} SET "n" = "n" - 1 WHERE "target" = OLD."target" AND "status" = OLD."status";`;
    return [
      `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  was boolean := false;
  is_ boolean := false;
BEGIN
  IF TG_OP <> 'INSERT' THEN was := OLD."deletedAt" IS NULL; END IF;
  IF TG_OP <> 'DELETE' THEN is_ := NEW."deletedAt" IS NULL; END IF;
  IF was AND is_ AND OLD."target" = NEW."target" AND OLD."status" = NEW."status" THEN RETURN NULL; END IF;
  IF was AND is_ AND (NEW."target", NEW."status") < (OLD."target", OLD."status") THEN
    ${add}
    is_ := false;
  END IF;
  IF was THEN ${sub} END IF;
  IF is_ THEN ${add} END IF;
  RETURN NULL;
END
$fn$`,
      `CREATE TRIGGER "${this.t('trg_backup_counts')}" AFTER INSERT OR DELETE OR UPDATE OF "target", "status", "deletedAt" ON "${this.t('backup_records')}" FOR EACH ROW EXECUTE PROCEDURE ${fn}()`,
    ];
  }

  private mysql(): string[] {
    const cnt = `\`${this.t('backup_counts')}\``;
    const rec = `\`${this.t('backup_records')}\``;
    const name = (op: string) => `\`${this.t(`trg_backup_counts_${op}`)}\``;
    const add = `INSERT INTO ${cnt} (\`target\`, \`status\`, \`n\`) VALUES (NEW.\`target\`, NEW.\`status\`, 1) ON DUPLICATE KEY UPDATE \`n\` = \`n\` + 1;`;
    const sub = `UPDATE ${cnt} SET \`n\` = \`n\` - 1 WHERE \`target\` = OLD.\`target\` AND \`status\` = OLD.\`status\`;`;
    return [
      `CREATE TRIGGER ${name('insert')} AFTER INSERT ON ${rec} FOR EACH ROW BEGIN IF NEW.\`deletedAt\` IS NULL THEN ${add} END IF; END`,
      `CREATE TRIGGER ${name('delete')} AFTER DELETE ON ${rec} FOR EACH ROW BEGIN IF OLD.\`deletedAt\` IS NULL THEN ${sub} END IF; END`,
      `CREATE TRIGGER ${name('update')} AFTER UPDATE ON ${rec} FOR EACH ROW
BEGIN
  DECLARE was BOOLEAN DEFAULT OLD.\`deletedAt\` IS NULL;
  DECLARE is_ BOOLEAN DEFAULT NEW.\`deletedAt\` IS NULL;
  IF NOT (was AND is_ AND OLD.\`target\` = NEW.\`target\` AND OLD.\`status\` = NEW.\`status\`) THEN
    IF was AND is_ AND (NEW.\`target\`, NEW.\`status\`) < (OLD.\`target\`, OLD.\`status\`) THEN
      ${add}
      SET is_ = FALSE;
    END IF;
    IF was THEN ${sub} END IF;
    IF is_ THEN ${add} END IF;
  END IF;
END`,
    ];
  }

  private sqlite(): string[] {
    const cnt = `"${this.t('backup_counts')}"`;
    const rec = `"${this.t('backup_records')}"`;
    const name = (op: string) => `"${this.t(`trg_backup_counts_${op}`)}"`;
    const upsert = `ON CONFLICT ("target", "status") DO UPDATE SET "n" = "n" + 1`;
    const sub = `UPDATE ${cnt} SET "n" = "n" - 1 WHERE "target" = OLD."target" AND "status" = OLD."status"`;
    // One writer at a time on SQLite: no lock order to keep.
    return [
      `CREATE TRIGGER ${name('insert')} AFTER INSERT ON ${rec} WHEN NEW."deletedAt" IS NULL
BEGIN INSERT INTO ${cnt} ("target", "status", "n") VALUES (NEW."target", NEW."status", 1) ${upsert}; END`,
      `CREATE TRIGGER ${name('delete')} AFTER DELETE ON ${rec} WHEN OLD."deletedAt" IS NULL BEGIN ${sub}; END`,
      `CREATE TRIGGER ${name('update')} AFTER UPDATE OF "target", "status", "deletedAt" ON ${rec}
WHEN OLD."target" IS NOT NEW."target" OR OLD."status" IS NOT NEW."status" OR (OLD."deletedAt" IS NULL) IS NOT (NEW."deletedAt" IS NULL)
BEGIN
  ${sub} AND OLD."deletedAt" IS NULL;
  INSERT INTO ${cnt} ("target", "status", "n") SELECT NEW."target", NEW."status", 1 WHERE NEW."deletedAt" IS NULL ${upsert};
END`,
    ];
  }
}

/** Drops the counts table of the catalog with `prefix`, and the triggers (and function) on `records` that keep it. */
async function dropCounts(qr: QueryRunner, prefix: string, records: string): Promise<void> {
  const q = (name: string) => qr.connection.driver.escape(prefix + name);
  if (qr.connection.options.type === 'postgres') {
    await qr.query(`DROP TRIGGER IF EXISTS ${q('trg_backup_counts')} ON ${qr.connection.driver.escape(records)}`);
    await qr.query(`DROP FUNCTION IF EXISTS ${q('backup_counts_follow')}()`);
  } else {
    for (const op of ['insert', 'update', 'delete']) await qr.query(`DROP TRIGGER IF EXISTS ${q(`trg_backup_counts_${op}`)}`);
  }
  await qr.dropTable(prefix + 'backup_counts', true);
}
