import { DATABASE_NAME } from '../engines/restorer.interface.js';

/**
 * Databases no restore may write, on either engine (compared in any letter case): PostgreSQL's
 * maintenance and template databases, MySQL/MariaDB's system schemas.
 */
export const SYSTEM_DATABASES: readonly string[] = ['postgres', 'template0', 'template1', 'mysql', 'information_schema', 'performance_schema', 'sys'];

/** Prefix of the tool's own scratch databases (restore staging, holding, drills). */
export const SCRATCH_PREFIX = 'bm_';

/** Why no restore may ever write `name` (a system or scratch database), or undefined. */
export function protectedDatabaseReason(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (SYSTEM_DATABASES.includes(lower)) return `"${name}" is a system database; no restore ever writes a system database`;
  if (lower.startsWith(SCRATCH_PREFIX)) return `"${name}" is a scratch database name of backup-manager (${SCRATCH_PREFIX}*); choose a name that does not start with ${SCRATCH_PREFIX}`;
  return undefined;
}

/** Problems with the databases a target allows restores into (`restoreDatabases`), one line each. */
export function restoreDatabasesProblems(databases: readonly unknown[]): string[] {
  const problems: string[] = [];
  for (const db of databases) {
    if (typeof db !== 'string' || !DATABASE_NAME.test(db)) {
      problems.push(`${JSON.stringify(db)} must be 1 to 63 letters, digits or underscores`);
      continue;
    }
    const reason = protectedDatabaseReason(db);
    if (reason) problems.push(reason);
  }
  return problems;
}

/** The environment variable that lists the databases a target allows restores into. */
export function restoreDatabasesVariable(targetName: string): string {
  return `BACKUP_TARGET_${targetName.toUpperCase()}_RESTORE_DATABASES`;
}
