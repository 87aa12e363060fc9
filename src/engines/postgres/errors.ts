import { EngineError } from '../../common/errors.js';

/**
 * SQLSTATE classes and codes no retry can fix: bad credentials (28), a missing database (3D),
 * privileges, missing or duplicate objects and other statement errors (42), a lock not
 * obtained in time (55P03: the lock wait timeout is the user's limit, not a hiccup).
 */
const FINAL_SQLSTATE_CLASSES = ['28', '3D', '42'];
const FINAL_SQLSTATES = new Set(['55P03']);

/**
 * The same conditions in the words of libpq and the client programs, which give no SQLSTATE.
 * Not a bare "does not exist": pg_dump reports a table dropped while it ran that way, and the
 * next attempt does not see that table.
 */
const FINAL_TEXT = [
  /password authentication failed/i,
  /no password supplied/i,
  /no pg_hba\.conf entry/i,
  /role ".*" does not exist/i,
  /database ".*" does not exist/i,
  /permission denied/i,
  /could not obtain lock/i,
  /lock timeout/i,
  /lock wait timeout/i,
  /server version mismatch/i,
];

/**
 * Whether retrying can help: the one retry policy for PostgreSQL errors (catalog queries, the
 * dump client, the restorer's queries). `sqlstate` comes from a `pg` error; without it the text
 * decides. Anything else (connection refused or reset, the server shutting down, a deadlock) is
 * worth another attempt.
 */
export function pgErrorRetryable(text: string, sqlstate?: string): boolean {
  if (sqlstate && /^[0-9A-Z]{5}$/.test(sqlstate)) {
    if (FINAL_SQLSTATES.has(sqlstate) || FINAL_SQLSTATE_CLASSES.includes(sqlstate.slice(0, 2))) return false;
  }
  return !FINAL_TEXT.some((re) => re.test(text));
}

/** Where an error happened, for its message. */
export interface PgErrorPlace {
  host: string;
  port: number;
  database: string;
}

/**
 * Turns a `pg` error, or a client program's stderr and exit code, into an `EngineError` that
 * names the server and database and carries the retry decision.
 */
export function classifyPgError(err: { message: string; code?: string } | string, place: PgErrorPlace, exitCode?: number | null): EngineError {
  const raw = typeof err === 'string' ? err : err.message;
  const sqlstate = typeof err === 'string' ? undefined : err.code;
  let text = raw.replace(/^pg_dump: error: /gm, '').trim() || `pg_dump exited with code ${exitCode}`;
  // pg_dump's --lock-wait-timeout surfaces as a statement timeout on its LOCK TABLE: say what it is.
  const locked = /canceling statement due to statement timeout[\s\S]*Query was: LOCK TABLE (\S+)/.exec(text);
  if (locked) text = `lock wait timeout: pg_dump could not lock table ${locked[1]} within DUMP_LOCK_WAIT_TIMEOUT_MS; another session holds a conflicting lock (${text.replace(/\s+/g, ' ')})`;
  const msg = `PostgreSQL ${place.host}:${place.port}/${place.database}: ${text}`;
  return new EngineError(msg.slice(0, 2000), { retryable: pgErrorRetryable(text, sqlstate) });
}
