/** This module's catalog entities (added to the catalog DataSource). */
export const SYSTEM_INFO_ENTITIES: Function[] = [];
