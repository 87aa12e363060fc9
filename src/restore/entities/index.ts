import { RestoreRun } from './restore-run.entity.js';

/** This module's catalog entities (added to the catalog DataSource). */
export const RESTORE_ENTITIES: Function[] = [RestoreRun];
