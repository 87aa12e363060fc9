import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createWorkerContext, keepHealthFile, roleDescription } from './app.factory.js';
import { closeOnSignals } from './common/lifecycle.js';
import { runOrExit } from './config/boot.js';

/**
 * `npm run start:worker`: BullMQ workers (and scheduler ticks) only, no HTTP server. With
 * `HEALTH_FILE`, keeps that file fresh while the readiness checks pass (see `keepHealthFile`).
 */
await runOrExit(async (config) => {
  const ctx = await createWorkerContext(config);
  closeOnSignals(ctx, 'worker');
  if (process.env.HEALTH_FILE) keepHealthFile(ctx, process.env.HEALTH_FILE);
  new Logger('Lifecycle').log(`ready (${roleDescription(config)})`);
}, 'worker');
