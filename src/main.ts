import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createHttpApp, createWorkerContext, keepHealthFile, roleDescription } from './app.factory.js';
import { checkPortFree, closeOnSignals, listenError } from './common/lifecycle.js';
import { runOrExit } from './config/boot.js';

/** `npm start`: API + worker + scheduler (APP_ROLE=all), or API only (APP_ROLE=api). */
await runOrExit(async (config) => {
  if (config.role === 'worker') {
    const ctx = await createWorkerContext(config);
    closeOnSignals(ctx, 'worker');
    if (process.env.HEALTH_FILE) keepHealthFile(ctx, process.env.HEALTH_FILE);
    new Logger('Lifecycle').log(`ready (${roleDescription(config)})`);
    return;
  }
  const host = process.env.HOST || '0.0.0.0';
  // A port in use fails here, before any worker starts, rather than after the whole start-up.
  await checkPortFree(config.port, host);
  const app = await createHttpApp(config);
  closeOnSignals(app, 'service');
  await app.listen(config.port, host).catch(async (err: unknown) => {
    // Taken in the meantime: stop what start-up began (workers, connections) before exiting.
    await app.close().catch(() => undefined);
    throw listenError(err, config.port, host);
  });
  const { port } = app.getHttpServer().address() as { port: number };
  new Logger('Lifecycle').log(`listening on http://${host}:${port} (${roleDescription(config)})`);
});
