import { Module } from '@nestjs/common';
import { BackupCommand, BackupCreateCommand, BackupListCommand, BackupVerifyCommand } from './commands/backup.command.js';
import { CleanupCommand, MigrateCommand, RestoreCommand, ScheduleCommand, ScheduleListCommand, TokenCommand } from './commands/ops.command.js';
import { CliContext } from './context.js';

/**
 * The command-line tool's own module: commands and their context only. Each command starts the
 * library context it needs (queued, inline or none) when it runs, so `token --help` stays instant.
 */
@Module({
  providers: [
    CliContext,
    BackupCommand,
    BackupCreateCommand,
    BackupListCommand,
    BackupVerifyCommand,
    RestoreCommand,
    CleanupCommand,
    ScheduleCommand,
    ScheduleListCommand,
    TokenCommand,
    MigrateCommand,
  ],
})
export class CliModule {}
