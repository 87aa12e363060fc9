/**
 * The error to throw instead of MySQL's or MariaDB's refusal to create a trigger while binary
 * logging is on (errno 1419, ER_BINLOG_CREATE_ROUTINE_NEED_SUPER): the catalog's user needs SUPER
 * or the server `log_bin_trust_function_creators`. It says what to set; the migration resumes
 * where it stopped at the next start. Undefined for any other error.
 */
export function mysqlTriggerRefused(e: unknown, migration: string): Error | undefined {
  if ((e as { errno?: number }).errno !== 1419) return undefined;
  return new Error(
    `The catalog migration ${migration} creates triggers, which this MySQL/MariaDB server refuses to the catalog's user while binary logging is on. ` +
      'Have an administrator run `SET GLOBAL log_bin_trust_function_creators = 1` (and put `log_bin_trust_function_creators = 1` under [mysqld] in the server\'s configuration so that it outlasts a restart), ' +
      'or grant the catalog\'s user SUPER, then start backup-manager again: the migration carries on from where it stopped',
    { cause: e },
  );
}
