/**
 * The MariaDB side of `npm run bench`: a database of about `mb` MB (an `events` table of
 * mixed types with a secondary index, ~3M rows at 600 MB), built once and reused across runs.
 */
import mysql from 'mysql2/promise';

export interface MyConn {
  host: string;
  port: number;
  user: string;
}

export async function myQuery(conn: MyConn, sql: string, database?: string): Promise<any[]> {
  const c = await mysql.createConnection({ ...conn, database, multipleStatements: false });
  try {
    const [rows] = await c.query(sql);
    return rows as any[];
  } finally {
    await c.end();
  }
}

/** The bench database of about `mb` MB of table data; built when missing or unfinished. */
export async function ensureMysqlDatabase(conn: MyConn, mb: number): Promise<string> {
  const db = `bench_my_${mb}mb`;
  const done = await myQuery(conn, `SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = '${db}' AND table_name = 'bench_done'`);
  if (Number(done[0].n) === 1) return db;
  await myQuery(conn, `DROP DATABASE IF EXISTS \`${db}\``);
  await myQuery(conn, `CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4`);
  // ~210 bytes of table data and index a row: 3M rows make the 600 MB of issue 20's measurement.
  const rows = Math.round((mb * 1024 * 1024) / 210);
  process.stderr.write(`building MariaDB ${db} (${rows} rows)...\n`);
  await myQuery(
    conn,
    `CREATE TABLE events (id BIGINT PRIMARY KEY, user_id INT NOT NULL, kind VARCHAR(16) NOT NULL, amount DECIMAL(12,2),
       created_at DATETIME NOT NULL, note VARCHAR(80), attrs JSON, KEY (user_id)) ENGINE=InnoDB`,
    db,
  );
  const chunk = 250_000;
  for (let start = 1; start <= rows; start += chunk) {
    const n = Math.min(chunk, rows - start + 1);
    await myQuery(
      conn,
      `INSERT INTO events SELECT s.seq + ${start - 1}, 1 + (s.seq * 7919) % 50000, ELT(1 + s.seq % 4, 'view', 'click', 'cart', 'order'),
         ROUND(RAND() * 1000, 2), TIMESTAMP('2026-01-01') - INTERVAL s.seq SECOND, CONCAT(MD5(RAND()), ' ', MD5(s.seq)),
         JSON_OBJECT('sku', CONCAT('SKU-', s.seq % 9973), 'qty', 1 + s.seq % 7, 'gift', s.seq % 11 = 0)
       FROM seq_1_to_${n} s`,
      db,
    );
  }
  await myQuery(conn, `ANALYZE TABLE events`, db);
  await myQuery(conn, `CREATE TABLE bench_done (id INT)`, db);
  return db;
}
