import { CreateRestoreRuns1763800100000 } from './1763800100000-create-restore-runs.js';
import { RestoreRunsActiveKey1764900000000 } from './1764900000000-restore-runs-active-key.js';

/** This module's catalog migrations. */
export const RESTORE_MIGRATIONS: Function[] = [CreateRestoreRuns1763800100000, RestoreRunsActiveKey1764900000000];
