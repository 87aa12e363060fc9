import 'reflect-metadata';
import { Logger as NestLogger, type INestApplication, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication, NestExpressBodyParserOptionsFor } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { refuseDeepJson } from './common/json-depth.js';
import type { AppConfig } from './config/env.js';

export const API_PREFIX = 'api/v1';

/** Builds the HTTP application (roles `all` and `api`): prefix, Swagger, shutdown hooks. */
export async function createHttpApp(config: AppConfig): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forConfig(config), { bufferLogs: true, bodyParser: false });
  // JSON only, capped: a larger body gets 413 (HTTP_BODY_LIMIT_KB), a too deeply nested one 400,
  // before any handler runs.
  // NOTE: `verify` is passed through to express.json; Nest's type omits it (it uses it for rawBody).
  app.useBodyParser('json', { limit: config.bodyLimitBytes, verify: refuseDeepJson } as NestExpressBodyParserOptionsFor<'json'>);
  // NOTE: req.ip (per-IP limits, audit) is the client's only if the proxies in front are trusted.
  if (config.trustProxy !== false) app.set('trust proxy', config.trustProxy);
  app.useLogger(app.get(Logger));
  app.setGlobalPrefix(API_PREFIX, { exclude: ['health/live', 'health/ready', 'metrics'] });
  app.enableShutdownHooks();
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

/** Builds the worker context (no HTTP server). */
export async function createWorkerContext(config: AppConfig): Promise<INestApplicationContext> {
  const ctx = await NestFactory.createApplicationContext(AppModule.forConfig(config), { bufferLogs: true });
  ctx.useLogger(ctx.get(Logger));
  ctx.enableShutdownHooks();
  warnDevMode(config);
  return ctx;
}

/** Says which secret signs tokens when AUTH_DEV_MODE is on. */
function warnDevMode(config: AppConfig): void {
  if (config.devModeNotice) new NestLogger('Auth').warn(config.devModeNotice);
}
