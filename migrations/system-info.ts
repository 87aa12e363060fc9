/** This module's catalog migrations (timestamps in the 17638005xxxxx range). */
export const SYSTEM_INFO_MIGRATIONS: Function[] = [];
