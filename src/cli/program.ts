import { Command, CommanderError } from 'commander';
import { BackupCreateCommand } from './commands/backup-create.command.js';
import { BackupListCommand } from './commands/backup-list.command.js';
import { BackupVerifyCommand } from './commands/backup-verify.command.js';
import { CatalogRebuildCommand } from './commands/catalog-rebuild.command.js';
import { CleanupCommand } from './commands/cleanup.command.js';
import { MigrateCommand } from './commands/migrate.command.js';
import { RestoreCommand } from './commands/restore.command.js';
import { ScheduleListCommand } from './commands/schedule-list.command.js';
import { TokenCommand } from './commands/token.command.js';
import { UserCreateCommand, UserDisableCommand, UserListCommand, UserResetPasswordCommand } from './commands/user.command.js';
import type { CliContext } from './context.js';
import { Exit } from './exit.js';

/** The command tree of `backup-manager`. */
export function buildProgram(cli: CliContext): Command {
  const program = new Command('backup-manager')
    .description('Back up, verify and restore PostgreSQL and MySQL/MariaDB databases')
    .configureOutput({ outputError: () => undefined });
  const backup = group(program, 'backup', 'Create, list and verify backups');
  new BackupCreateCommand(cli).attach(backup);
  new BackupListCommand(cli).attach(backup);
  new BackupVerifyCommand(cli).attach(backup);
  new RestoreCommand(cli).attach(program);
  new CleanupCommand(cli).attach(program);
  new CatalogRebuildCommand(cli).attach(group(program, 'catalog', 'The backup catalog'));
  new ScheduleListCommand(cli).attach(group(program, 'schedule', 'Backup schedules'));
  new TokenCommand(cli).attach(program);
  const user = group(program, 'user', 'Dashboard accounts: create, reset-password, disable, enable, list');
  new UserCreateCommand(cli).attach(user);
  new UserResetPasswordCommand(cli).attach(user);
  new UserDisableCommand(cli, true).attach(user);
  new UserDisableCommand(cli, false).attach(user);
  new UserListCommand(cli).attach(user);
  new MigrateCommand(cli).attach(program);
  reportUsageErrors(program);
  return program;
}

/** A command that only holds subcommands: alone it prints its help. */
function group(parent: Command, name: string, description: string): Command {
  const cmd = parent.command(name).description(description);
  cmd.action(() => {
    if (cmd.args.length) cmd.error(`unknown command '${cmd.args[0]}'`, { code: 'commander.unknownCommand' });
    cmd.help();
  });
  return cmd;
}

/**
 * Every command line commander refuses exits 64 with `backup-manager: <what is wrong>` and where
 * to look; help exits 0. NOTE: commander's exitOverride is per command, so it is set on each.
 */
function reportUsageErrors(cmd: Command): void {
  cmd.exitOverride((err: CommanderError) => {
    if (err.exitCode === 0 || ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code)) process.exit(Exit.Ok);
    const path: string[] = [];
    for (let c: Command | null = cmd; c; c = c.parent) path.unshift(c.name());
    process.stderr.write(`backup-manager: ${err.message.replace(/^error: /, '')} (see \`${path.join(' ')} --help\`)\n`);
    process.exit(Exit.Usage);
  });
  cmd.commands.forEach(reportUsageErrors);
}
