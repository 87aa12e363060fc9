import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createWorkerContext, roleDescription } from './app.factory.js';
import { closeOnSignals } from './common/lifecycle.js';
import { runOrExit } from './config/boot.js';

/** `npm run start:worker`: BullMQ workers (and scheduler ticks) only, no HTTP server. */
await runOrExit(async (config) => {
  closeOnSignals(await createWorkerContext(config), 'worker');
  new Logger('Lifecycle').log(`ready (${roleDescription(config)})`);
}, 'worker');
