import { CacheClearEvent } from './cache-clear-event.entity.js';

/** This module's catalog entities (added to the catalog DataSource). */
export const CACHE_ENTITIES: Function[] = [CacheClearEvent];
