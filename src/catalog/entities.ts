import { AUDIT_ENTITIES } from '../audit/entities/index.js';
import { BackupRecord } from '../backup/entities/backup-record.entity.js';
import { CACHE_ENTITIES } from '../cache/entities/index.js';
import { RESTORE_ENTITIES } from '../restore/entities/index.js';
import { SCHEDULER_ENTITIES } from '../scheduler/entities/index.js';

/** Every catalog entity. Hosts that use their own DataSource add these to it. */
export const CATALOG_ENTITIES = [BackupRecord, ...RESTORE_ENTITIES, ...SCHEDULER_ENTITIES, ...AUDIT_ENTITIES, ...CACHE_ENTITIES];
