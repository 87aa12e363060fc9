import { catalogMigrationsTable, catalogTableNames } from '../../catalog/entities.js';
import type mysql from 'mysql2/promise';
import { mysql as mysqlDriver } from '../drivers.js';
import { EngineError } from '../../common/errors.js';
import { withSecretFile } from '../../common/secure-fs.js';
import type { ResolvedTarget } from '../../targets/targets.service.js';
import { classifyMysqlError } from './errors.js';

/** Quotes a value for a MySQL option file so that `#`, quotes, backslashes and spaces survive. */
export function optionFileValue(v: string): string {
  const escaped = v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  return `"${escaped}"`;
}

/** The `[client]` option file text for a target: host, port, user and (if any) password. */
export function mysqlOptionFile(target: Pick<ResolvedTarget, 'host' | 'port' | 'user' | 'password'>): string {
  const lines = ['[client]', `host=${optionFileValue(target.host)}`, `port=${target.port}`, `user=${optionFileValue(target.user)}`];
  if (target.password !== undefined) lines.push(`password=${optionFileValue(target.password)}`);
  return lines.join('\n') + '\n';
}

/**
 * Runs `fn` with the path of a 0600 option file holding the target's connection and password.
 * Pass it as `--defaults-extra-file=<path>`, which must be the client's FIRST argument. The file
 * (and its 0700 directory) is removed when `fn` settles.
 */
export function withMysqlDefaultsFile<T>(target: ResolvedTarget, tempDir: string, fn: (path: string) => Promise<T>): Promise<T> {
  return withSecretFile(tempDir, 'client.cnf', mysqlOptionFile(target), fn);
}

/** `mysql2` connection options for the target (utf8mb4, one statement a query, bigints as strings). */
export function mysqlConnectionOptions(target: ResolvedTarget, database: string | undefined): mysql.ConnectionOptions {
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database,
    connectTimeout: 10_000,
    charset: 'utf8mb4',
    multipleStatements: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
  };
}

/** The one place `mysql2` connections are made: to `database` on the target's server (none: no current database). */
export function mysqlConnect(target: ResolvedTarget, database: string | undefined, extra: Partial<mysql.ConnectionOptions> = {}): Promise<mysql.Connection> {
  return mysqlDriver().createConnection({ ...mysqlConnectionOptions(target, database), ...extra });
}

/**
 * Runs `fn` on a connection of its own (no current database when `database` is null), closed
 * when `fn` settles. Errors that are not already an `EngineError` are classified.
 */
export async function withMysqlConnection<T>(target: ResolvedTarget, database: string | null, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysqlConnect(target, database ?? undefined);
    return await fn(conn);
  } catch (err) {
    if (err instanceof EngineError) throw err;
    throw classifyMysqlError(err as Error & { errno?: number }, target);
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

/**
 * One query on the target's database through `mysql2` (placeholders `?`), with connection errors
 * classified: access denied or an unknown database become a non-retryable `EngineError` whose
 * message never holds the password.
 */
export async function mysqlQuery<T>(target: ResolvedTarget, sql: string, params: unknown[] = [], opts: { database?: string | null } = {}): Promise<T[]> {
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysqlConnect(target, opts.database === null ? undefined : (opts.database ?? target.database), { dateStrings: true });
    const [rows] = await conn.query(sql, params);
    return rows as T[];
  } catch (err) {
    throw classifyMysqlError(err as Error & { errno?: number; code?: string }, target);
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

/** One statement on an open connection: its rows. */
export async function q<T = Record<string, unknown>>(c: mysql.Connection, sql: string, params: unknown[] = []): Promise<T[]> {
  const [rows] = await c.query(sql, params);
  return rows as T[];
}

/**
 * The base tables of `database`, by name; with the catalog's table `prefix`, without the
 * backup-manager catalog's when a catalog with that prefix lives there (its history table among
 * them): a restore never replaces, empties or counts the catalog, which is not application data.
 */
export async function baseTables(c: mysql.Connection, database: string, prefix?: string): Promise<string[]> {
  const rows = await q<{ name: string }>(
    c,
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_type IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY table_name`,
    [database],
  );
  const names = rows.map((r) => r.name);
  if (prefix === undefined || !names.includes(catalogMigrationsTable(prefix))) return names;
  const catalog = new Set(catalogTableNames(prefix));
  return names.filter((n) => !catalog.has(n));
}

/**
 * Exact row count of every base table of `database` (default: the target's), from one snapshot; the catalog's left out (`baseTables`).
 * `lockWaitSeconds` bounds how long a count waits for a table another session locks (the server's default is a day);
 * `signal` ends the counts early (the connection is destroyed; the promise rejects).
 */
export function mysqlTableRows(
  target: ResolvedTarget,
  database: string,
  prefix: string,
  opts: { lockWaitSeconds?: number; signal?: AbortSignal } = {},
): Promise<Record<string, number>> {
  const ident = (s: string) => `\`${s.replace(/`/g, '``')}\``;
  return withMysqlConnection(target, null, async (c) => {
    const stop = () => c.destroy();
    if (opts.signal?.aborted) throw new EngineError('row counts cancelled', { retryable: false });
    opts.signal?.addEventListener('abort', stop, { once: true });
    try {
      return await countIn(c);
    } finally {
      opts.signal?.removeEventListener('abort', stop);
    }
  });
  async function countIn(c: mysql.Connection): Promise<Record<string, number>> {
    if (opts.lockWaitSeconds !== undefined) await q(c, 'SET SESSION lock_wait_timeout = ?', [Math.max(1, Math.ceil(opts.lockWaitSeconds))]);
    await q(c, 'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    await q(c, 'START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    const out: Record<string, number> = {};
    for (const t of await baseTables(c, database, prefix)) {
      const [row] = await q<{ n: string }>(c, `SELECT COUNT(*) AS n FROM ${ident(database)}.${ident(t)}`);
      out[t] = Number(row.n);
    }
    await q(c, 'COMMIT');
    return out;
  }
}
