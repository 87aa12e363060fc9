import { CreateBackupRecords1763800000000 } from './1763800000000-create-backup-records.js';
import { AUDIT_MIGRATIONS } from './audit.js';
import { CACHE_MIGRATIONS } from './cache.js';
import { RESTORE_MIGRATIONS } from './restore.js';
import { SCHEDULER_MIGRATIONS } from './scheduler.js';
import { SYSTEM_INFO_MIGRATIONS } from './system-info.js';

/** Every catalog migration; TypeORM orders them by the timestamp in their names. */
export const CATALOG_MIGRATIONS = [
  CreateBackupRecords1763800000000,
  ...RESTORE_MIGRATIONS,
  ...SCHEDULER_MIGRATIONS,
  ...AUDIT_MIGRATIONS,
  ...CACHE_MIGRATIONS,
  ...SYSTEM_INFO_MIGRATIONS,
];
