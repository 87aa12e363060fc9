#!/usr/bin/env node
import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import type { Command } from 'commander';
import { CliModule } from './cli.module.js';
import { CliContext } from './context.js';
import { Exit } from './exit.js';

/**
 * `npx backup-manager <command>` / `npm run cli -- <command>`. Reads the same environment as the
 * service. Exit codes: 0 ok, 1 the operation failed, 64 usage, 65 refused, 69 Redis or catalog
 * unreachable, 78 invalid configuration, 130 interrupted; the reason is on stderr.
 */
const onCommanderExit = (error: Error): never => {
  // Help and version are not errors; everything else commander rejects is a usage error.
  const err = error as Error & { exitCode?: number; code?: string };
  const kind = err.code ?? '';
  if (kind === 'commander.helpDisplayed' || kind === 'commander.help' || kind === 'commander.version' || err.exitCode === 0) process.exit(Exit.Ok);
  process.exit(Exit.Usage);
};

const app = await CommandFactory.createWithoutRunning(CliModule, {
  cliName: 'backup-manager',
  logger: false,
  errorHandler: onCommanderExit,
  serviceErrorHandler: (err) => {
    process.stderr.write(`backup-manager: ${err.message}\n`);
    process.exitCode = Exit.Failed;
  },
});
// NOTE: nest-commander sets exitOverride on the root command only; subcommands would exit 1.
const override = (c: Command) => {
  c.exitOverride(onCommanderExit);
  c.commands.forEach(override);
};
override(app.get(CliContext).program);
try {
  await CommandFactory.runApplication(app);
} finally {
  await app.close();
}
// Open handles (pg pools, Redis reconnects) must not keep a finished command alive.
process.exit(process.exitCode ?? Exit.Ok);
