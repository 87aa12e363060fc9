import { CreateBackupRecords1763800000000 } from './1763800000000-create-backup-records.js';
import { AlignCatalogColumns1765000000000 } from './1765000000000-align-catalog-columns.js';
import { CreateBackupCopies1766000000000 } from './1766000000000-create-backup-copies.js';
import { Encryption1766100000000 } from './1766100000000-encryption.js';
import { BackupRecordsLiveIndexes1796097124876 } from './1796097124876-backup-records-live-indexes.js';
import { BackupCounts1796320000000 } from './1796320000000-backup-counts.js';
import { BackupTotals1796400000000 } from './1796400000000-backup-totals.js';
import { DropTargetVerifiedIndex1796410000000 } from './1796410000000-drop-target-verified-index.js';
import { DropBackupCounts1796420000000 } from './1796420000000-drop-backup-counts.js';
import { ACCOUNT_MIGRATIONS } from './accounts.js';
import { AUDIT_MIGRATIONS } from './audit.js';
import type { CatalogMigration } from './catalog-migration.js';
import { CACHE_MIGRATIONS } from './cache.js';
import { NOTIFICATION_MIGRATIONS } from './notifications.js';
import { RESTORE_MIGRATIONS } from './restore.js';
import { SCHEDULER_MIGRATIONS } from './scheduler.js';
import { SYSTEM_INFO_MIGRATIONS } from './system-info.js';

/** Every catalog migration, unprefixed; TypeORM orders them by the timestamp in their names. */
export const CATALOG_MIGRATIONS = [
  CreateBackupRecords1763800000000,
  ...RESTORE_MIGRATIONS,
  ...SCHEDULER_MIGRATIONS,
  ...AUDIT_MIGRATIONS,
  ...CACHE_MIGRATIONS,
  ...SYSTEM_INFO_MIGRATIONS,
  AlignCatalogColumns1765000000000,
  CreateBackupCopies1766000000000,
  Encryption1766100000000,
  BackupRecordsLiveIndexes1796097124876,
  ...ACCOUNT_MIGRATIONS,
  ...NOTIFICATION_MIGRATIONS,
  BackupCounts1796320000000,
  BackupTotals1796400000000,
  DropTargetVerifiedIndex1796410000000,
  DropBackupCounts1796420000000,
];

type MigrationClass = new () => CatalogMigration;


/** The catalog migrations for tables named with `prefix` (same names in the history). */
export function catalogMigrations(prefix: string): Function[] {
  return CATALOG_MIGRATIONS.map((m) => {
    const Base = m as unknown as MigrationClass;
    // A subclass per prefix; its instances keep the base migration's `name` in the history.
    return class extends (Base as new () => object) {
      tablePrefix = prefix;
    };
  });
}
