import 'reflect-metadata';
import { createHttpApp, createWorkerContext } from './app.factory.js';
import { runOrExit } from './config/boot.js';

/** `npm start`: API + worker + scheduler (APP_ROLE=all), or API only (APP_ROLE=api). */
await runOrExit(async (config) => {
  if (config.role === 'worker') {
    await createWorkerContext(config);
    return;
  }
  const app = await createHttpApp(config);
  await app.listen(config.port, process.env.HOST ?? '0.0.0.0');
});
