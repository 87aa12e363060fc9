import 'reflect-metadata';
import { createWorkerContext } from './app.factory.js';
import { runOrExit } from './config/boot.js';

/** `npm run start:worker`: BullMQ workers (and scheduler ticks) only, no HTTP server. */
await runOrExit((config) => createWorkerContext(config).then(() => undefined), 'worker');
