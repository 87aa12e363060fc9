import pg from 'pg';

/** A database of about `mb` MB: a wide orders table with mixed types, reused across runs. */
export async function ensureBenchDatabase(PG: { host: string; port: number; user: string }, mb: number): Promise<string> {
  const q = async (db: string, sql: string): Promise<any[]> => {
    const c = new pg.Client({ ...PG, database: db });
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  };
  const db = `bm_bench_${mb}mb`;
  const exists = await q('postgres', `SELECT 1 FROM pg_database WHERE datname = '${db}'`);
  if (exists.length) {
    const ok = await q(db, `SELECT count(*) AS n FROM pg_tables WHERE tablename = 'bench_done'`);
    if (Number(ok[0].n) === 1) return db;
    await q('postgres', `DROP DATABASE "${db}" WITH (FORCE)`);
  }
  await q('postgres', `CREATE DATABASE "${db}"`);
  const rows = Math.round((mb * 1024 * 1024) / 260);
  process.stderr.write(`building ${db} (${rows} rows)...\n`);
  await q(db, `CREATE TABLE customers (id int PRIMARY KEY, name text, email text, country text, created_at timestamptz)`);
  await q(db, `INSERT INTO customers SELECT g, 'Customer ' || g, 'user' || g || '@example.com', (ARRAY['DE','FR','JP','BR','US'])[1 + g % 5], now() - (g || ' minutes')::interval FROM generate_series(1, ${Math.max(1000, Math.round(rows / 20))}) g`);
  await q(db, `CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int, status text, total numeric(12,2), placed_at timestamptz, note text, attrs jsonb)`);
  const chunk = 500_000;
  for (let start = 1; start <= rows; start += chunk) {
    const end = Math.min(rows, start + chunk - 1);
    await q(db, `INSERT INTO orders SELECT g, 1 + g % 50000, (ARRAY['new','paid','shipped','returned'])[1 + g % 4], round((random() * 1000)::numeric, 2),
      now() - (g || ' seconds')::interval, md5(random()::text) || ' ' || md5(g::text),
      jsonb_build_object('sku', 'SKU-' || (g % 9973), 'qty', 1 + g % 7, 'gift', g % 11 = 0, 'ref', substr(md5((g * 7)::text), 1, 12))
      FROM generate_series(${start}, ${end}) g`);
  }
  await q(db, `CREATE INDEX ON orders (customer_id)`);
  // Frozen and analysed: no round pays for setting hint bits on freshly loaded pages.
  await q(db, `VACUUM (FREEZE, ANALYZE)`);
  await q(db, `CREATE TABLE bench_done ()`);
  return db;
}

