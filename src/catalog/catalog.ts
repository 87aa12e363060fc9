import { chmod, open, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { CATALOG_MIGRATIONS } from '../../migrations/index.js';
import { ensureDir } from '../common/secure-fs.js';
import type { CatalogOptions } from '../config/options.js';
import { CATALOG_ENTITIES } from './entities.js';

/** Name of the catalog's TypeORM connection, kept apart from a host app's default one. */
export const CATALOG_CONNECTION = 'backup-manager';

/** TypeORM options of a catalog the library opens itself (from `url` or `sqlitePath`). */
export function catalogDataSourceOptions(o: CatalogOptions): DataSourceOptions {
  const common = {
    name: CATALOG_CONNECTION,
    entities: CATALOG_ENTITIES,
    migrations: CATALOG_MIGRATIONS,
    migrationsTableName: 'backup_manager_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
  } as const;
  const url = o.url;
  if (!url || url.startsWith('sqlite:')) {
    const path = url ? url.replace(/^sqlite:(\/\/)?/, '') : o.sqlitePath;
    return { ...common, type: 'better-sqlite3', database: path, enableWAL: true, timeout: 15_000 };
  }
  const full = withPassword(url, o.password);
  if (/^postgres(ql)?:/.test(url)) return { ...common, type: 'postgres', url: full };
  return { ...common, type: 'mysql', url: full, timezone: 'Z', charset: 'utf8mb4' };
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

/**
 * Checks that a host's DataSource can serve as the catalog: initialised, with the catalog
 * entities registered and their tables migrated. The library neither migrates nor closes it.
 */
export async function useHostCatalog(ds: DataSource): Promise<DataSource> {
  if (!ds.isInitialized) await ds.initialize();
  const missing = CATALOG_ENTITIES.filter((e) => !ds.hasMetadata(e)).map((e) => e.name);
  if (missing.length) {
    throw new Error(`The host DataSource used as the backup-manager catalog lacks entities ${missing.join(', ')}: add CATALOG_ENTITIES to its entities`);
  }
  const table = ds.getMetadata(CATALOG_ENTITIES[0]).tablePath;
  const qr = ds.createQueryRunner();
  try {
    if (!(await qr.hasTable(table))) {
      throw new Error(`The host DataSource used as the backup-manager catalog has no ${table} table: add CATALOG_MIGRATIONS to its migrations and run them`);
    }
  } finally {
    await qr.release();
  }
  return ds;
}

/** Opens the catalog outside Nest (CLI, tests); runs migrations when the options say so. */
export async function openCatalog(o: CatalogOptions): Promise<DataSource> {
  if (o.dataSource) return useHostCatalog(o.dataSource);
  const opts = catalogDataSourceOptions(o);
  const sqlite = opts.type === 'better-sqlite3' ? opts.database : undefined;
  if (sqlite && sqlite !== ':memory:') {
    await ensureDir(dirname(sqlite));
    await (await open(sqlite, 'a', 0o600)).close();
  }
  const ds = await new DataSource(opts).initialize();
  // The catalog file (and its WAL) is private whatever the umask and whatever its folder is.
  if (sqlite) for (const f of [sqlite, `${sqlite}-wal`, `${sqlite}-shm`]) await chmod(f, 0o600).catch(() => undefined);
  if (o.migrationsRun) await migrateCatalog(ds, o);
  return ds;
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
