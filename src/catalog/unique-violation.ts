/**
 * Whether a catalog write failed on a UNIQUE constraint, on any of the catalog's engines:
 * PostgreSQL `23505`, MySQL/MariaDB `ER_DUP_ENTRY` (1062), SQLite `SQLITE_CONSTRAINT_UNIQUE` (and
 * `SQLITE_CONSTRAINT_PRIMARYKEY`: a primary key is unique too, but SQLite names it apart).
 */
export function isUniqueViolation(err: unknown): boolean {
  const { codes, errnos } = driverCodes(err);
  return codes.some((c) => c === '23505' || c === 'ER_DUP_ENTRY' || c === 'SQLITE_CONSTRAINT_UNIQUE' || c === 'SQLITE_CONSTRAINT_PRIMARYKEY') || errnos.includes(1062);
}

/** The error codes a catalog driver put on `err` or on the driver error TypeORM wraps. */
function driverCodes(err: unknown): { codes: unknown[]; errnos: unknown[] } {
  const e = err as { code?: unknown; errno?: unknown; driverError?: { code?: unknown; errno?: unknown } } | undefined;
  return { codes: [e?.code, e?.driverError?.code], errnos: [e?.errno, e?.driverError?.errno] };
}

/**
 * Whether a catalog write was chosen as a deadlock victim and rolled back: MySQL/MariaDB
 * `ER_LOCK_DEADLOCK` (1213), PostgreSQL `40P01`. InnoDB picks one when several transactions
 * insert the same value into a unique index whose previous holder has just let it go (about 1 in
 * 20 of 10 simultaneous inserts, measured on MariaDB 10.11): the write can simply be made again.
 */
export function isDeadlock(err: unknown): boolean {
  const { codes, errnos } = driverCodes(err);
  return codes.some((c) => c === 'ER_LOCK_DEADLOCK' || c === '40P01') || errnos.includes(1213);
}

/** Runs `write`, again when it was a deadlock victim (`isDeadlock`), at most `attempts` times. */
export async function retryDeadlocks<T>(write: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isDeadlock(err) || attempt >= attempts) throw err;
    }
  }
}
