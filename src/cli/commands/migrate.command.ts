import type { Command } from 'commander';
import { migrateCatalog, openCatalog } from '../../catalog/catalog.js';
import { BaseCommand } from '../base-command.js';
import { CliError, Exit } from '../exit.js';

/** `migrate [--revert]`: run (or revert the last of) the catalog migrations. */
export class MigrateCommand extends BaseCommand<{ revert?: boolean }> {
  readonly name = 'migrate';
  readonly description = 'Run pending catalog migrations (or revert the last with --revert)';
  override readonly common = {};

  protected configure(cmd: Command): void {
    cmd.option('--revert', 'Revert the last migration');
  }

  async run(_: string[], o: { revert?: boolean }): Promise<void> {
    const { options } = this.cli.loadConfig();
    const ds = await openCatalog({ ...options.catalog, migrationsRun: false }).catch((err: Error) => {
      throw new CliError(`could not open the catalog: ${err.message}`, Exit.Unavailable);
    });
    try {
      if (o.revert) {
        await ds.undoLastMigration({ transaction: 'each' });
        process.stdout.write('reverted the last migration\n');
      } else {
        const ran = await migrateCatalog(ds, options.catalog);
        process.stdout.write(ran.length ? `applied: ${ran.join(', ')}\n` : 'catalog is up to date\n');
      }
    } finally {
      await ds.destroy();
    }
  }
}
