import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';

/** The local test server: root with an empty password (the machine's MariaDB). */
export const MY = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };

/** `mysql://root@127.0.0.1:3306/<db>` for a target URL. */
export function myUrl(db: string, user = MY.user, password = MY.password): string {
  const auth = password ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}` : encodeURIComponent(user);
  return `mysql://${auth}@${MY.host}:${MY.port}/${db}`;
}

export async function myConnect(database?: string): Promise<mysql.Connection> {
  return mysql.createConnection({
    ...MY,
    password: MY.password || undefined,
    database,
    charset: 'utf8mb4',
    multipleStatements: false,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
}

/** Runs one statement (with `?` placeholders) or several, one after the other. */
export async function myQuery<T = any>(database: string | undefined, sql: string | string[], params: unknown[] = []): Promise<T[]> {
  const c = await myConnect(database);
  try {
    let last: unknown = [];
    for (const s of Array.isArray(sql) ? sql : [sql]) [last] = await c.query(s, params);
    return last as T[];
  } finally {
    await c.end();
  }
}

export const myIdent = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/** Creates an empty utf8mb4 database with a random name for one test file. */
export async function createMyDatabase(tag: string): Promise<string> {
  const name = `bmt_${tag}_${randomBytes(4).toString('hex')}`;
  await myQuery(undefined, `CREATE DATABASE ${myIdent(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  return name;
}

export async function dropMyDatabase(name: string): Promise<void> {
  await myQuery(undefined, `DROP DATABASE IF EXISTS ${myIdent(name)}`);
}

/** Feeds SQL to the `mariadb` client (argv only, no shell) the way a user restores a dump. */
export function mariadbLoad(database: string, sql: Buffer | string | Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['-h', MY.host, '-P', String(MY.port), '-u', MY.user, '--default-character-set=utf8mb4', '--batch', '--', database];
    const p = spawn('mariadb', args, { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mariadb exited ${code}: ${err.slice(0, 2000)}`))));
    p.stdin.on('error', () => undefined);
    if (sql instanceof Readable) sql.pipe(p.stdin);
    else p.stdin.end(sql);
  });
}

/**
 * Streams a dataset file line by line, dropping its own CREATE/DROP DATABASE and USE lines and
 * renaming `<from>.` qualifiers, so it loads into a database of the caller's name.
 */
export function datasetStream(path: string, from: string): Readable {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  const dbLine = new RegExp(`^\\s*(DROP\\s+(DATABASE|SCHEMA)\\s+IF\\s+EXISTS|CREATE\\s+(DATABASE|SCHEMA)|USE|\\\\c)\\s+\`?${from}\`?\\s*;?\\s*$`, 'i');
  const qualifier = new RegExp(`\\b${from}\\.`, 'g');
  return Readable.from(
    (async function* () {
      for await (const line of lines) {
        if (dbLine.test(line)) continue;
        yield line.replace(qualifier, '') + '\n';
      }
    })(),
  );
}

const hex = (v: unknown) => (Buffer.isBuffer(v) ? `0x${v.toString('hex')}` : v);

/** Every base table's rows (sorted), as JSON text per table: equal output means equal data. */
export async function myRows(database: string): Promise<Record<string, string>> {
  const c = await myConnect(database);
  try {
    const [tables] = await c.query<any[]>(
      `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1`,
      [database],
    );
    const out: Record<string, string> = {};
    for (const { t } of tables) {
      const [rows] = await c.query<any[]>(`SELECT * FROM ${myIdent(t)}`);
      const lines = rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, hex(v)])))).sort();
      out[t] = `${lines.length}:${lines.join('\n')}`;
    }
    return out;
  } finally {
    await c.end();
  }
}

export async function myRowCounts(database: string): Promise<Record<string, number>> {
  const tables = await myQuery<{ t: string }>(undefined, `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1`, [database]);
  const out: Record<string, number> = {};
  for (const { t } of tables) out[t] = Number((await myQuery<{ n: string }>(database, `SELECT COUNT(*) AS n FROM ${myIdent(t)}`))[0].n);
  return out;
}

/** Names and definitions of what is not a table row: routines, triggers, views, events, AUTO_INCREMENTs. */
export async function myObjects(database: string) {
  const q = <T = any>(sql: string) => myQuery<T>(undefined, sql, [database]);
  return {
    tables: (await q<{ n: string }>(`SELECT table_name AS n FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1`)).map((r) => r.n),
    views: (await q<{ n: string }>(`SELECT table_name AS n FROM information_schema.views WHERE table_schema = ? ORDER BY 1`)).map((r) => r.n),
    routines: await q(`SELECT routine_name AS name, routine_type AS type, routine_definition AS body FROM information_schema.routines WHERE routine_schema = ? ORDER BY 1, 2`),
    triggers: await q(
      `SELECT trigger_name AS name, event_manipulation AS event, action_timing AS timing, event_object_table AS tbl, action_statement AS body
         FROM information_schema.triggers WHERE trigger_schema = ? ORDER BY 1`,
    ),
    events: (await q<{ n: string }>(`SELECT event_name AS n FROM information_schema.events WHERE event_schema = ? ORDER BY 1`)).map((r) => r.n),
    autoIncrement: Object.fromEntries(
      (await q<{ n: string; a: string | null }>(`SELECT table_name AS n, auto_increment AS a FROM information_schema.tables WHERE table_schema = ? AND auto_increment IS NOT NULL ORDER BY 1`)).map((r) => [r.n, Number(r.a)]),
    ),
  };
}
