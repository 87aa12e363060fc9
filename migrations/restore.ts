import { CreateRestoreRuns1763800100000 } from './1763800100000-create-restore-runs.js';

/** This module's catalog migrations (timestamps in the 17638001xxxxx range). */
export const RESTORE_MIGRATIONS: Function[] = [CreateRestoreRuns1763800100000];
