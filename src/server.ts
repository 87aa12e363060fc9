/**
 * `backup-manager/server`: the standalone service's pieces, for running it from your own entry
 * point (the package's `main.js` and `worker.js` use them). It needs the service's own packages,
 * optional for library users: `pino` and `pino-http` (logging), and `better-sqlite3` for an SQLite
 * catalog. The library entry (`backup-manager`) loads none of them.
 */
export { AppModule } from './app.module.js';
export { API_PREFIX, createHttpApp, createWorkerContext, keepHealthFile, roleDescription } from './app.factory.js';
export { ConfigError, loadConfig, type AppConfig } from './config/env.js';
export { ENV_VARIABLES, type EnvVariable } from './config/env-variables.js';
export { runOrExit } from './config/boot.js';
export { accessLog, createPino, PinoLogger } from './logging.js';
