/**
 * The words of the domain as union constants: one list per concept, used by the DTOs (validation
 * and Swagger enums), the catalog's typed columns, the options and the CLI's choices.
 */

/** Database families a target can be. */
export const ENGINES = ['postgres', 'mysql'] as const;
export type EngineKind = (typeof ENGINES)[number];

/** Compression of an artifact. */
export const COMPRESSIONS = ['zstd', 'gzip', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** What a backup holds: the whole database, the target's core tables, or the tables named. */
export const SCOPES = ['full', 'partial', 'selective'] as const;
export type BackupScopeKind = (typeof SCOPES)[number];

/** Dump format: plain SQL (psql, mysql) or PostgreSQL's custom archive (pg_restore). */
export const FORMATS = ['plain', 'custom'] as const;
export type DumpFormat = (typeof FORMATS)[number];

/** `what must be one of: a, b, c`, the message every check of these lists gives. */
export const oneOfMessage = (what: string, list: readonly string[]) => `${what} must be one of: ${list.join(', ')}`;
