import { Table, TableIndex, type QueryRunner } from 'typeorm';
import { CatalogMigration } from './catalog-migration.js';
import { columnTypes } from './column-types.js';
import { mysqlTriggerRefused } from './mysql-triggers.js';

/** The summed columns of `backup_totals`, each with what a record adds to it (`r` is NEW or OLD, `on` turns a condition into 0/1). */
const SUMS: Array<[column: string, of: (r: string, q: (c: string) => string, on: (cond: string) => string) => string]> = [
  ['n', () => '1'],
  ['sizeBytes', (r, q) => `COALESCE(${r}.${q('sizeBytes')}, 0)`],
  ['ratioSum', (r, q) => `COALESCE(${r}.${q('compressionRatio')}, 0)`],
  ['ratioN', (r, q, on) => on(`${r}.${q('compressionRatio')} IS NOT NULL`)],
  ['durationSum', (r, q) => `COALESCE(${r}.${q('durationMs')}, 0)`],
  ['durationN', (r, q, on) => on(`${r}.${q('durationMs')} IS NOT NULL`)],
  ['verifiedN', (r, q, on) => on(`${r}.${q('verifiedAt')} IS NOT NULL`)],
];
const KEY = ['target', 'type', 'status'];
/** Record columns whose change can move a record's contribution. */
const FOLLOWED = [...KEY, 'sizeBytes', 'compressionRatio', 'durationMs', 'verifiedAt', 'deletedAt'];

/**
 * The index for the newest verification of every live record. NOTE: none for a target's: SQLite
 * (no statistics) took a (`target`, `verifiedAt`) index for every per-target query ordered by
 * `createdAt`, and sorted the target's records; a target's newest verification reads its list index.
 */
const VERIFIED_INDEXES: Array<[name: string, columns: string[]]> = [['idx_backup_records_live_verified', ['verifiedAt']]];

/**
 * `backup_totals`: per target, type and status, the live (not soft-deleted) records' count and the
 * sums behind `/backups/stats` (sizes, compression ratios, run times, verifications), so that the
 * statistics of the whole catalog or of a target read a few hundred rows instead of every record.
 * Triggers on `backup_records` keep it in the same transaction as each write: an insert, a
 * delete, and an update of any column it sums, of the key, or of `deletedAt`. The migration fills
 * it from the records already there. An index makes the newest `verifiedAt` (which a sum cannot
 * keep under deletes) a seek.
 *
 * Like `backup_counts`, a move between two rows takes their locks smaller key first, so that
 * opposite moves at the same time never deadlock.
 */
export class BackupTotals1796400000000 extends CatalogMigration {
  name = 'BackupTotals1796400000000';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr);
    const type = qr.connection.options.type;
    const mysql = type === 'mysql' || type === 'mariadb';
    const totals = this.t('backup_totals');
    const records = this.t('backup_records');
    // An unprefixed catalog's totals (its records are adopted under the prefix): summed again below.
    if (this.tablePrefix && (await qr.hasTable('backup_totals'))) await dropTotals(qr, '', records);
    const int = (name: string) => ({ name, type: t.int });
    await qr.createTable(
      new Table({
        name: totals,
        columns: [
          { name: 'target', type: 'varchar', length: '64', isPrimary: true },
          { name: 'type', type: 'varchar', length: '16', isPrimary: true },
          { name: 'status', type: 'varchar', length: '16', isPrimary: true },
          int('n'),
          { name: 'sizeBytes', type: 'bigint' },
          { name: 'ratioSum', type: 'double precision' },
          int('ratioN'),
          { name: 'durationSum', type: 'bigint' },
          int('durationN'),
          int('verifiedN'),
        ],
      }),
      true,
    );
    const statements = type === 'postgres' ? this.postgres() : mysql ? this.mysql() : this.sqlite();
    try {
      for (const sql of statements) await qr.query(sql);
    } catch (e) {
      throw mysqlTriggerRefused(e, this.name) ?? e;
    }
    // Triggers first, then the fill: in one transaction on PostgreSQL and SQLite, so no write falls between.
    const q = (n: string) => qr.connection.driver.escape(n);
    const cols = [...KEY, ...SUMS.map(([c]) => c)].map(q).join(', ');
    const sums = `COUNT(*), COALESCE(SUM(${q('sizeBytes')}), 0), COALESCE(SUM(${q('compressionRatio')}), 0), COUNT(${q('compressionRatio')}), COALESCE(SUM(${q('durationMs')}), 0), COUNT(${q('durationMs')}), COUNT(${q('verifiedAt')})`;
    const key = KEY.map(q).join(', ');
    await qr.query(`DELETE FROM ${q(totals)}`);
    await qr.query(`INSERT INTO ${q(totals)} (${cols}) SELECT ${key}, ${sums} FROM ${q(records)} WHERE ${q('deletedAt')} IS NULL GROUP BY ${key}`);

    const have = new Set((await qr.getTable(records))!.indices.map((i) => i.name));
    for (const [name, columns] of VERIFIED_INDEXES) {
      if (have.has(this.t(name))) continue;
      await qr.createIndex(records, new TableIndex({ name: this.t(name), columnNames: mysql ? ['deletedAt', ...columns] : columns, where: mysql ? undefined : '"deletedAt" IS NULL' }));
    }
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const [name] of [...VERIFIED_INDEXES].reverse()) await qr.dropIndex(this.t('backup_records'), this.t(name));
    await dropTotals(qr, this.tablePrefix, this.t('backup_records'));
  }

  private postgres(): string[] {
    const q = (c: string) => `"${c}"`;
    const tot = q(this.t('backup_totals'));
    const fn = q(this.t('backup_totals_follow'));
    const on = (cond: string) => `(${cond})::int`;
    const key = (r: string) => `(${KEY.map((c) => `${r}.${q(c)}`).join(', ')})`;
    const add = `INSERT INTO ${tot} AS c (${[...KEY, ...SUMS.map(([c]) => c)].map(q).join(', ')}) VALUES (${[...KEY.map((c) => `NEW.${q(c)}`), ...SUMS.map(([, of]) => of('NEW', q, on))].join(', ')})
      ON CONFLICT (${KEY.map(q).join(', ')}) DO UPDATE SET ${SUMS.map(([c, of]) => `${q(c)} = c.${q(c)} + ${of('NEW', q, on)}`).join(', ')};`;
    const sub = `UPDATE ${tot} SET ${SUMS.map(([c, of]) => `${q(c)} = ${q(c)} - ${of('OLD', q, on)}`).join(', ')} WHERE ${KEY.map((c) => `${q(c)} = OLD.${q(c)}`).join(' AND ')};`;
    const part = (r: string) => `(${[...KEY.map((c) => `${r}.${q(c)}`), `${r}."sizeBytes"`, `${r}."compressionRatio"`, `${r}."durationMs"`, `${r}."verifiedAt" IS NULL`].join(', ')})`;
    return [
      `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  was boolean := false;
  is_ boolean := false;
BEGIN
  IF TG_OP <> 'INSERT' THEN was := OLD."deletedAt" IS NULL; END IF;
  IF TG_OP <> 'DELETE' THEN is_ := NEW."deletedAt" IS NULL; END IF;
  IF was AND is_ AND ${part('OLD')} IS NOT DISTINCT FROM ${part('NEW')} THEN RETURN NULL; END IF;
  IF was AND is_ AND ${key('NEW')} < ${key('OLD')} THEN
    ${add}
    is_ := false;
  END IF;
  IF was THEN ${sub} END IF;
  IF is_ THEN ${add} END IF;
  RETURN NULL;
END
$fn$`,
      `CREATE TRIGGER ${q(this.t('trg_backup_totals'))} AFTER INSERT OR DELETE OR UPDATE OF ${FOLLOWED.map(q).join(', ')} ON ${q(this.t('backup_records'))} FOR EACH ROW EXECUTE PROCEDURE ${fn}()`,
    ];
  }

  private mysql(): string[] {
    const q = (c: string) => `\`${c}\``;
    const tot = q(this.t('backup_totals'));
    const rec = q(this.t('backup_records'));
    const name = (op: string) => q(this.t(`trg_backup_totals_${op}`));
    const on = (cond: string) => `(${cond})`;
    const key = (r: string) => `(${KEY.map((c) => `${r}.${q(c)}`).join(', ')})`;
    const add = `INSERT INTO ${tot} (${[...KEY, ...SUMS.map(([c]) => c)].map(q).join(', ')}) VALUES (${[...KEY.map((c) => `NEW.${q(c)}`), ...SUMS.map(([, of]) => of('NEW', q, on))].join(', ')})
      ON DUPLICATE KEY UPDATE ${SUMS.map(([c, of]) => `${q(c)} = ${q(c)} + ${of('NEW', q, on)}`).join(', ')};`;
    const sub = `UPDATE ${tot} SET ${SUMS.map(([c, of]) => `${q(c)} = ${q(c)} - ${of('OLD', q, on)}`).join(', ')} WHERE ${KEY.map((c) => `${q(c)} = OLD.${q(c)}`).join(' AND ')};`;
    const same = [...KEY, 'sizeBytes', 'compressionRatio', 'durationMs'].map((c) => `OLD.${q(c)} <=> NEW.${q(c)}`).join(' AND ') + ` AND (OLD.${q('verifiedAt')} IS NULL) = (NEW.${q('verifiedAt')} IS NULL)`;
    return [
      `CREATE TRIGGER ${name('insert')} AFTER INSERT ON ${rec} FOR EACH ROW BEGIN IF NEW.${q('deletedAt')} IS NULL THEN ${add} END IF; END`,
      `CREATE TRIGGER ${name('delete')} AFTER DELETE ON ${rec} FOR EACH ROW BEGIN IF OLD.${q('deletedAt')} IS NULL THEN ${sub} END IF; END`,
      `CREATE TRIGGER ${name('update')} AFTER UPDATE ON ${rec} FOR EACH ROW
BEGIN
  DECLARE was BOOLEAN DEFAULT OLD.${q('deletedAt')} IS NULL;
  DECLARE is_ BOOLEAN DEFAULT NEW.${q('deletedAt')} IS NULL;
  IF NOT (was AND is_ AND ${same}) THEN
    IF was AND is_ AND ${key('NEW')} < ${key('OLD')} THEN
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
    const q = (c: string) => `"${c}"`;
    const tot = q(this.t('backup_totals'));
    const rec = q(this.t('backup_records'));
    const name = (op: string) => q(this.t(`trg_backup_totals_${op}`));
    const on = (cond: string) => `(${cond})`;
    const cols = [...KEY, ...SUMS.map(([c]) => c)].map(q).join(', ');
    const values = [...KEY.map((c) => `NEW.${q(c)}`), ...SUMS.map(([, of]) => of('NEW', q, on))].join(', ');
    const upsert = `ON CONFLICT (${KEY.map(q).join(', ')}) DO UPDATE SET ${SUMS.map(([c, of]) => `${q(c)} = ${q(c)} + ${of('NEW', q, on)}`).join(', ')}`;
    const sub = `UPDATE ${tot} SET ${SUMS.map(([c, of]) => `${q(c)} = ${q(c)} - ${of('OLD', q, on)}`).join(', ')} WHERE ${KEY.map((c) => `${q(c)} = OLD.${q(c)}`).join(' AND ')}`;
    const same = [...KEY, 'sizeBytes', 'compressionRatio', 'durationMs'].map((c) => `OLD.${q(c)} IS NEW.${q(c)}`).join(' AND ') +
      ` AND (OLD."verifiedAt" IS NULL) IS (NEW."verifiedAt" IS NULL) AND (OLD."deletedAt" IS NULL) IS (NEW."deletedAt" IS NULL)`;
    // One writer at a time on SQLite: no lock order to keep.
    return [
      `CREATE TRIGGER ${name('insert')} AFTER INSERT ON ${rec} WHEN NEW."deletedAt" IS NULL BEGIN INSERT INTO ${tot} (${cols}) VALUES (${values}) ${upsert}; END`,
      `CREATE TRIGGER ${name('delete')} AFTER DELETE ON ${rec} WHEN OLD."deletedAt" IS NULL BEGIN ${sub}; END`,
      `CREATE TRIGGER ${name('update')} AFTER UPDATE OF ${FOLLOWED.map(q).join(', ')} ON ${rec} WHEN NOT (${same})
BEGIN
  ${sub} AND OLD."deletedAt" IS NULL;
  INSERT INTO ${tot} (${cols}) SELECT ${values} WHERE NEW."deletedAt" IS NULL ${upsert};
END`,
    ];
  }
}

/** Drops the totals table of the catalog with `prefix`, and the triggers (and function) on `records` that keep it. */
async function dropTotals(qr: QueryRunner, prefix: string, records: string): Promise<void> {
  const q = (name: string) => qr.connection.driver.escape(prefix + name);
  if (qr.connection.options.type === 'postgres') {
    await qr.query(`DROP TRIGGER IF EXISTS ${q('trg_backup_totals')} ON ${qr.connection.driver.escape(records)}`);
    await qr.query(`DROP FUNCTION IF EXISTS ${q('backup_totals_follow')}()`);
  } else {
    for (const op of ['insert', 'update', 'delete']) await qr.query(`DROP TRIGGER IF EXISTS ${q(`trg_backup_totals_${op}`)}`);
  }
  await qr.dropTable(prefix + 'backup_totals', true);
}
