import 'reflect-metadata';
import { HttpException, Logger as NestLogger, type INestApplication, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheckService } from '@nestjs/terminus';
import { rename, rm, writeFile } from 'node:fs/promises';
import type { NestExpressApplication, NestExpressBodyParserOptionsFor } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module.js';
import { ApiExceptionFilter } from './common/http-exception.filter.js';
import { refuseDeepJson } from './common/json-depth.js';
import { StartupLogFilter } from './common/lifecycle.js';
import type { AppConfig } from './config/env.js';
import { SystemHealthService } from './system-info/system-health.service.js';
import { accessLog, createPino, PinoLogger } from './logging.js';
import { dashboardMiddleware } from './web/dashboard.js';

export const API_PREFIX = 'api/v1';

/**
 * Builds the HTTP application (roles `all` and `api`): prefix, Swagger, logger. The caller
 * listens, and closes it (`closeOnSignals` in the entrypoint).
 */
export async function createHttpApp(config: AppConfig): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forConfig(config), { bufferLogs: true, bodyParser: false });
  const pino = createPino(config.logLevel);
  app.use(accessLog(pino));
  // JSON only, capped: a larger body gets 413 (HTTP_BODY_LIMIT_KB), a too deeply nested one 400,
  // before any handler runs.
  // NOTE: `verify` is passed through to express.json; Nest's type omits it (it uses it for rawBody).
  app.useBodyParser('json', { limit: config.bodyLimitBytes, verify: refuseDeepJson } as NestExpressBodyParserOptionsFor<'json'>);
  // NOTE: req.ip (per-IP limits, audit) is the client's only if the proxies in front are trusted.
  if (config.trustProxy !== false) app.set('trust proxy', config.trustProxy);
  app.useLogger(new StartupLogFilter(new PinoLogger(pino)));
  // The web dashboard: static files of the build, before Nest's routes (DASHBOARD_ENABLED, DASHBOARD_PATH).
  if (config.dashboardPath) app.use(dashboardMiddleware(config.dashboardPath));
  // The standalone service renders every error in the API's one body shape, including those
  // raised before a route runs (unknown route, body too large or not JSON).
  app.useGlobalFilters(new ApiExceptionFilter());
  app.setGlobalPrefix(API_PREFIX, { exclude: ['health/live', 'health/ready', 'metrics'] });
  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('backup-manager')
      .setDescription('Back up, verify and restore PostgreSQL and MySQL/MariaDB databases. Every route but health and docs needs a bearer JWT.')
      .setVersion(process.env.npm_package_version ?? '0.1.0')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, doc, { jsonDocumentUrl: 'docs-json' });
  warnDevMode(config);
  return app;
}

/** Builds the worker context (no HTTP server). The caller closes it. */
export async function createWorkerContext(config: AppConfig): Promise<INestApplicationContext> {
  const ctx = await NestFactory.createApplicationContext(AppModule.forConfig(config), { bufferLogs: true });
  ctx.useLogger(new StartupLogFilter(new PinoLogger(createPino(config.logLevel))));
  warnDevMode(config);
  return ctx;
}

/**
 * For a process without HTTP (the worker role), the honest counterpart of `/health/ready`: every
 * `everyMs` it runs the same checks (catalog, Redis, storage writable, free space) and, when they
 * pass, rewrites `path` (0600) with the time; when they fail, it removes the file. A container
 * healthcheck tests that the file is fresh: stale or missing means the checks failed or the
 * process stopped running them. Returns a function that stops it.
 */
export function keepHealthFile(ctx: INestApplicationContext, path: string, everyMs = 10_000): () => void {
  const checks = ctx.get(HealthCheckService, { strict: false });
  const health = ctx.get(SystemHealthService, { strict: false });
  const logger = new NestLogger('Lifecycle');
  let healthy: boolean | undefined;
  const beat = async () => {
    try {
      await checks.check(health.readiness());
      await writeFile(`${path}.tmp`, `${new Date().toISOString()}\n`, { mode: 0o600 });
      await rename(`${path}.tmp`, path);
      if (healthy === false) logger.log(`health checks pass again; ${path} is fresh`);
      healthy = true;
    } catch (err) {
      await rm(path, { force: true }).catch(() => undefined);
      if (healthy !== false) logger.warn(`health checks fail; removed ${path}: ${failedChecks(err)}`);
      healthy = false;
    }
  };
  void beat();
  const timer = setInterval(() => void beat(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The failed indicators of a terminus check (`disk: ...; redis: ...`), else the error's message. */
function failedChecks(err: unknown): string {
  const body = err instanceof HttpException ? (err.getResponse() as { error?: Record<string, Record<string, unknown>> }) : undefined;
  const failed = Object.entries(body?.error ?? {}).map(([name, r]) => `${name}: ${String(r.message ?? JSON.stringify(r))}`);
  return failed.length ? failed.join('; ') : (err as Error).message;
}

/** What a process of this role runs, for its start-up line. */
export function roleDescription(config: AppConfig): string {
  const jobs = config.options.workers ? (config.options.scheduler ? 'workers and scheduler' : 'workers, no scheduler') : 'no workers';
  return config.options.controllers ? `role ${config.role}: HTTP API, ${jobs}` : `role ${config.role}: no HTTP server, ${jobs}`;
}

/** Says which secret signs tokens when AUTH_DEV_MODE is on. */
function warnDevMode(config: AppConfig): void {
  if (config.devModeNotice) new NestLogger('Auth').warn(config.devModeNotice);
}
