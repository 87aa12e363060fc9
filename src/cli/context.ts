import { Module, Logger, type INestApplicationContext, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { BackupManagerModule } from '../backup-manager.module.js';
import { ConfigError, loadConfig, type AppConfig } from '../config/env.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { CliError, Exit } from './exit.js';
import { InlineLibraryModule } from './inline.js';

/** Nest's logger for the CLI: warnings and errors only, on stderr, so stdout stays parseable. */
class StderrLogger implements LoggerService {
  constructor(private readonly chatty: boolean) {}
  log(message: unknown): void {
    if (this.chatty) this.write('log', message);
  }
  warn(message: unknown): void {
    this.write('warn', message);
  }
  error(message: unknown): void {
    this.write('error', message);
  }
  debug(): void {}
  verbose(): void {}
  private write(level: string, message: unknown): void {
    const text = typeof message === 'object' && message ? ((message as { msg?: string }).msg ? JSON.stringify(message) : String(message)) : String(message);
    process.stderr.write(`[${level}] ${text}\n`);
  }
}

/**
 * Config, library contexts and the stop signal of one CLI run. The CLI reads the same environment
 * as the service. Each command starts the library context it needs (queued, inline or none) when
 * it runs, so `token --help` stays instant.
 */
export class CliContext {
  private config?: AppConfig;
  private readonly contexts: INestApplicationContext[] = [];
  /** Aborted on SIGINT/SIGTERM; waits stop, in-process jobs are aborted. */
  readonly abort = new AbortController();

  /** Handles SIGINT/SIGTERM: the first stops the command, the second exits at once. */
  listenForSignals(): void {
    const stop = (sig: string) => {
      if (this.abort.signal.aborted) process.exit(Exit.Interrupted);
      process.stderr.write(`backup-manager: ${sig}, stopping (again to exit at once)\n`);
      this.abort.abort(new Error(sig));
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  }

  /** The service configuration from the environment. `needsSecret`: only `token` signs anything. */
  loadConfig(needsSecret = false): AppConfig {
    if (this.config) return this.config;
    const env = { ...process.env };
    if (!needsSecret && !env.JWT_SECRET && !env.JWT_SECRET_FILE && !env.AUTH_DEV_MODE) env.JWT_SECRET = randomBytes(32).toString('hex');
    try {
      this.config = loadConfig(env, { roleOverride: 'api' });
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message, Exit.Config);
      throw err;
    }
    return this.config;
  }

  /** The library for reading and housekeeping (list, cleanup, schedules): catalog and storage, no Redis. */
  async offline(): Promise<INestApplicationContext> {
    return (await this.inline()).ctx;
  }

  /** The library with the job queue on Redis (checked first): enqueue, then wait. No HTTP, workers or scheduler. */
  async queued(): Promise<INestApplicationContext> {
    const { options } = this.loadConfig();
    const redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
    redis.on('error', () => undefined);
    const ok = await redis.connect().then(() => redis.ping()).then(() => true, () => false);
    redis.disconnect();
    if (!ok) throw new CliError(`Redis at ${redactUrl(options.redisUrl)} is unreachable; start it, or run with --inline`, Exit.Unavailable);
    // The library uses the app's event emitter; the CLI is the app here.
    return this.create({
      module: CliQueuedModule,
      imports: [EventEmitterModule.forRoot({ wildcard: true, delimiter: '.' }), BackupManagerModule.forRoot({ ...options, workers: false, scheduler: false, controllers: false })],
    });
  }

  /** The library with the in-process job queue and no Redis: jobs run here. */
  async inline(): Promise<{ ctx: INestApplicationContext; queue: JobsQueue }> {
    const { options } = this.loadConfig();
    const ctx = await this.create(InlineLibraryModule.create(options));
    return { ctx, queue: ctx.get(JobsQueue, { strict: false }) };
  }

  /** The library for a command that runs a job: with `inline`, jobs run in this process; otherwise `queued()`. */
  async forJob(inline: boolean | undefined): Promise<{ ctx: INestApplicationContext; queue: JobsQueue }> {
    if (inline) return this.inline();
    const ctx = await this.queued();
    return { ctx, queue: ctx.get(JobsQueue, { strict: false }) };
  }

  private async create(module: Parameters<typeof NestFactory.createApplicationContext>[0]): Promise<INestApplicationContext> {
    const verbose = !!process.env.BACKUP_CLI_VERBOSE;
    try {
      const ctx = await NestFactory.createApplicationContext(module, { logger: new StderrLogger(verbose), abortOnError: false });
      this.contexts.push(ctx);
      return ctx;
    } catch (err) {
      throw new CliError(`could not start: ${(err as Error).message}`, Exit.Unavailable);
    }
  }

  async close(): Promise<void> {
    for (const ctx of this.contexts.splice(0)) await ctx.close().catch((err: Error) => new Logger('cli').warn(err.message));
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/** Root of the CLI's queued context. */
@Module({})
class CliQueuedModule {}
