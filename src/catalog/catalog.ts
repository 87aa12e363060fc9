import { chmod, open, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DataSource, DefaultNamingStrategy, type DataSourceOptions } from 'typeorm';
import { catalogMigrations } from '../../migrations/index.js';
import { ensureDir } from '../common/secure-fs.js';
import type { CatalogOptions } from '../config/options.js';
import { catalogEntitySchemas, catalogMigrationsTable, tablePrefixOf, type CatalogDbType } from './entities.js';

/** Name of the catalog's TypeORM connection, kept apart from a host app's default one. */
export const CATALOG_CONNECTION = 'backup-manager';

/** The options every catalog connection shares: its entities, migrations and history table, all prefixed. */
function catalogCommon(type: CatalogDbType, prefix: string) {
  return {
    name: CATALOG_CONNECTION,
    entities: catalogEntitySchemas(type, prefix),
    migrations: catalogMigrations(prefix),
    migrationsTableName: catalogMigrationsTable(prefix),
    synchronize: false,
    migrationsRun: false,
    dropSchema: false,
    logging: false,
  } as const;
}

/**
 * TypeORM options of the catalog connection: from `url` or `sqlitePath`, or, with
 * `dataSource`, the host DataSource's connection settings (same database, its own pool, and the
 * catalog's own entities, naming and migration history, so the host's schema tools never see it).
 */
export function catalogDataSourceOptions(o: CatalogOptions): DataSourceOptions {
  const prefix = tablePrefixOf(o);
  if (o.dataSource) {
    const host = o.dataSource.options;
    if (!['postgres', 'mysql', 'mariadb', 'better-sqlite3'].includes(host.type)) {
      throw new Error(`catalog.dataSource: a ${host.type} DataSource cannot hold the backup-manager catalog (postgres, mysql, mariadb or better-sqlite3)`);
    }
    return {
      ...host,
      ...catalogCommon(host.type as CatalogDbType, prefix),
      subscribers: [],
      entityPrefix: undefined,
      namingStrategy: new DefaultNamingStrategy(),
      cache: undefined,
    } as DataSourceOptions;
  }
  const url = o.url;
  if (!url || url.startsWith('sqlite:')) {
    const path = url ? url.replace(/^sqlite:(\/\/)?/, '') : o.sqlitePath;
    return { ...catalogCommon('better-sqlite3', prefix), type: 'better-sqlite3', database: path, enableWAL: true, timeout: 15_000 };
  }
  const full = withPassword(url, o.password);
  if (/^postgres(ql)?:/.test(url)) return { ...catalogCommon('postgres', prefix), type: 'postgres', url: full };
  return { ...catalogCommon('mysql', prefix), type: 'mysql', url: full, timezone: 'Z', charset: 'utf8mb4' };
}

/**
 * The URL with `password` in it (percent-encoded), unless it holds one already.
 * NOTE: TypeORM reads a URL without a password as the empty password, which beats its `password`
 * option, so a password from a file has to go into the URL.
 */
function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const u = new URL(url);
  if (u.password) return url;
  u.password = encodeURIComponent(password);
  return u.toString();
}

/** Runs pending catalog migrations, one process at a time. */
export async function migrateCatalog(ds: DataSource, o: CatalogOptions): Promise<string[]> {
  const run = async () => (await ds.runMigrations({ transaction: 'each' })).map((m) => m.name);
  const type = ds.options.type;
  if (type === 'postgres') {
    const qr = ds.createQueryRunner();
    await qr.connect();
    try {
      await qr.query('SELECT pg_advisory_lock(7426001)');
      return await run();
    } finally {
      await qr.query('SELECT pg_advisory_unlock(7426001)').catch(() => undefined);
      await qr.release();
    }
  }
  if (type === 'mysql') {
    const qr = ds.createQueryRunner();
    await qr.connect();
    try {
      await qr.query("SELECT GET_LOCK('backup_manager_migrations', 120)");
      return await run();
    } finally {
      await qr.query("SELECT RELEASE_LOCK('backup_manager_migrations')").catch(() => undefined);
      await qr.release();
    }
  }
  return withFileLock(`${(ds.options as { database: string }).database || o.sqlitePath}.migrate.lock`, run);
}

/** Opens the catalog connection; runs pending migrations (under a lock) when the options say so. */
export async function openCatalog(o: CatalogOptions): Promise<DataSource> {
  const opts = catalogDataSourceOptions(o);
  const sqlite = !o.dataSource && opts.type === 'better-sqlite3' ? opts.database : undefined;
  if (sqlite && sqlite !== ':memory:') {
    await ensureDir(dirname(sqlite));
    await (await open(sqlite, 'a', 0o600)).close();
  }
  let ds = await new DataSource(opts).initialize();
  if (opts.type === 'mysql' && (await isMariaDb(ds))) {
    // TypeORM reads MariaDB's column defaults right only with its `mariadb` driver type.
    await ds.destroy();
    ds = await new DataSource({ ...opts, type: 'mariadb', entities: catalogEntitySchemas('mariadb', tablePrefixOf(o)) }).initialize();
  }
  // The catalog file (and its WAL) is private whatever the umask and whatever its folder is.
  if (sqlite) for (const f of [sqlite, `${sqlite}-wal`, `${sqlite}-shm`]) await chmod(f, 0o600).catch(() => undefined);
  if (o.migrationsRun) {
    try {
      await migrateCatalog(ds, o);
    } catch (err) {
      // Its pool would keep the process alive after the caller gave up.
      await ds.destroy().catch(() => undefined);
      throw err;
    }
  }
  return ds;
}

async function isMariaDb(ds: DataSource): Promise<boolean> {
  const [row] = await ds.query('SELECT VERSION() AS v');
  return /mariadb/i.test(String(row?.v));
}

async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await stat(path).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 120_000) await rm(path, { force: true }); // holder died
      if (Date.now() > deadline) throw new Error(`Timed out waiting for the migration lock ${path}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
