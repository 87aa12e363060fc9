import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import pg from 'pg';

export const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };

export function pgClient(database: string, user = PG.user, password?: string): pg.Client {
  return new pg.Client({ ...PG, user, password, database });
}

export async function pgQuery<T = any>(database: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = pgClient(database);
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Creates an empty database with a random name for one test file. */
export async function createPgDatabase(tag: string): Promise<string> {
  const name = `bmt_${tag}_${randomBytes(4).toString('hex')}`;
  await pgQuery('postgres', `CREATE DATABASE "${name}"`);
  return name;
}

export async function dropPgDatabase(name: string): Promise<void> {
  await pgQuery('postgres', `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/** Feeds SQL text to psql (argv only, no shell) and fails on the first error. */
export function psqlLoad(database: string, sql: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('psql', ['-h', PG.host, '-U', PG.user, '-d', database, '-v', 'ON_ERROR_STOP=1', '-q', '-X'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}: ${err}`))));
    p.stdin.end(sql);
  });
}

/** Every user table's rows, ordered by all columns, as JSON text: equal output means equal data. */
export async function pgSnapshot(database: string): Promise<Record<string, string>> {
  const tables = await pgQuery<{ t: string }>(
    database,
    `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS t FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const rows = await pgQuery<{ j: unknown }>(database, `SELECT coalesce(json_agg(x ORDER BY x::text), '[]') AS j FROM ${t} x`);
    out[t] = JSON.stringify(rows[0].j);
  }
  return out;
}
