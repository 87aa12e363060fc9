import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { openCatalog } from '../catalog/catalog.js';
import { ConfigError, loadConfig } from '../config/env.js';

/** `npm run migrate [-- --revert]`: runs (or reverts the last) catalog migration(s). */
const { values } = parseArgs({ options: { revert: { type: 'boolean', default: false } } });
try {
  const { options } = loadConfig({ AUTH_DEV_MODE: 'true', ...process.env }, { roleOverride: 'api' });
  const ds = await openCatalog({ ...options.catalog, migrationsRun: false });
  if (values.revert) {
    await ds.undoLastMigration({ transaction: 'each' });
    process.stdout.write('reverted the last migration\n');
  } else {
    const { migrateCatalog } = await import('../catalog/catalog.js');
    const ran = await migrateCatalog(ds, options.catalog);
    process.stdout.write(ran.length ? `applied: ${ran.join(', ')}\n` : 'catalog is up to date\n');
  }
  await ds.destroy();
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  process.exit(1);
}
