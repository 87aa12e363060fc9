#!/usr/bin/env node
import 'reflect-metadata';
import { CliContext } from './context.js';
import { Exit } from './exit.js';
import { buildProgram } from './program.js';

/**
 * `npx backup-manager <command>` / `npm run cli -- <command>`. Reads the same environment as the
 * service. Exit codes: 0 ok, 1 the operation failed, 64 usage, 65 refused, 69 Redis or catalog
 * unreachable, 75 queue full, 78 invalid configuration, 130 interrupted; the reason is on stderr.
 */
const cli = new CliContext();
cli.listenForSignals();
try {
  await buildProgram(cli).parseAsync(process.argv);
} finally {
  await cli.close();
}
// Open handles (pg pools, Redis reconnects) must not keep a finished command alive.
process.exit(process.exitCode ?? Exit.Ok);
