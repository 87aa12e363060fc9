import { CreateCacheClearEvents1763800400000 } from './1763800400000-create-cache-clear-events.js';

/** This module's catalog migrations (timestamps in the 17638004xxxxx range). */
export const CACHE_MIGRATIONS: Function[] = [CreateCacheClearEvents1763800400000];
