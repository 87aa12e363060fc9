import type pg from 'pg';
import { pg as pgDriver } from '../drivers.js';
import { withSecretFile } from '../../common/secure-fs.js';
import type { ResolvedTarget } from '../../targets/targets.service.js';
import { classifyPgError } from './errors.js';

type PgTarget = Pick<ResolvedTarget, 'host' | 'port' | 'user' | 'password' | 'database'>;

/**
 * The one place `pg` clients are made: a client for `database` (default: the target's) on the
 * target's server. A late socket error after a query settled must not crash the process, so it
 * is swallowed here; the query that was running reports it.
 */
export function pgClient(target: PgTarget, database = target.database): pg.Client {
  const client = new (pgDriver().Client)({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database,
    connectionTimeoutMillis: 10_000,
    application_name: 'backup-manager',
  });
  client.on('error', () => undefined);
  return client;
}

/**
 * One statement on its own connection, errors classified (`classifyPgError`). `snapshot` runs it
 * in a read-only REPEATABLE READ transaction, so a statement counting many tables sees one state.
 */
export async function pgQuery<T>(target: PgTarget, sql: string, params: unknown[] = [], opts: { database?: string; snapshot?: boolean } = {}): Promise<T[]> {
  return onConnection(target, opts.database, async (client) => {
    if (opts.snapshot) await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const res = await client.query(sql, params);
    if (opts.snapshot) await client.query('COMMIT');
    return res.rows as T[];
  });
}

/**
 * Statements one after another on one connection (each its own implicit transaction, so
 * `CREATE DATABASE` may be among them), errors classified; the rows of each.
 */
export async function pgQueries(target: PgTarget, statements: string[], opts: { database?: string } = {}): Promise<Array<Record<string, unknown>[]>> {
  return onConnection(target, opts.database, async (client) => {
    const out: Array<Record<string, unknown>[]> = [];
    for (const sql of statements) out.push((await client.query(sql)).rows);
    return out;
  });
}

async function onConnection<T>(target: PgTarget, db: string | undefined, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const database = db ?? target.database;
  const client = pgClient(target, database);
  try {
    await client.connect();
    return await fn(client);
  } catch (err) {
    throw classifyPgError(err as Error & { code?: string }, { ...target, database });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The libpq environment for a client program: connection parameters plus, when there is a
 * password, a 0600 PGPASSFILE in `tempDir` that is removed when `fn` settles.
 */
export async function withPgConnectionEnv<T>(target: PgTarget, tempDir: string, fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
  const env: Record<string, string> = {
    PGHOST: target.host,
    PGPORT: String(target.port),
    PGUSER: target.user,
    PGDATABASE: target.database,
    PGCONNECT_TIMEOUT: '10',
    PGAPPNAME: 'backup-manager',
  };
  if (target.password === undefined) return fn(env);
  const line = ['*', '*', '*', target.user, target.password].map(escapePgpass).join(':') + '\n';
  return withSecretFile(tempDir, 'pgpass', line, (path) => fn({ ...env, PGPASSFILE: path }));
}

function escapePgpass(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}
