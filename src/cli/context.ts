import { HttpException, Injectable, Logger, Module, type INestApplicationContext, type LoggerService, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Command as Commander } from 'commander';
import { InjectCommander } from 'nest-commander';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { BackupManagerModule } from '../backup-manager.module.js';
import { DomainError, ErrorCode } from '../common/errors.js';
import { ConfigError, loadConfig, type AppConfig } from '../config/env.js';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { CliError, Exit } from './exit.js';
import { InlineJobsQueue, InlineLibraryModule } from './inline.js';

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

/** Config, library contexts and output of one CLI run. The CLI reads the same environment as the service. */
@Injectable()
export class CliContext implements OnApplicationShutdown {
  private config?: AppConfig;
  private readonly contexts: INestApplicationContext[] = [];
  /** Aborted on SIGINT/SIGTERM; inline jobs stop with it. */
  readonly abort = new AbortController();

  constructor(@InjectCommander() readonly program: Commander) {
    program.name('backup-manager');
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

  /** The library with an in-process queue: jobs run here, without Redis. */
  async inline(): Promise<{ ctx: INestApplicationContext; queue: InlineJobsQueue }> {
    const { options } = this.loadConfig();
    const ctx = await this.create(InlineLibraryModule.create(options));
    return { ctx, queue: ctx.get(JobsQueue) as unknown as InlineJobsQueue };
  }

  /** The library for a command that runs a job: with `inline`, an in-process queue it drains itself; otherwise `queued()`. */
  async forJob(inline: boolean | undefined): Promise<{ ctx: INestApplicationContext; queue?: InlineJobsQueue }> {
    return inline ? this.inline() : { ctx: await this.queued() };
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

  async onApplicationShutdown(): Promise<void> {
    for (const ctx of this.contexts.splice(0)) await ctx.close().catch((err: Error) => new Logger('cli').warn(err.message));
  }
}

/** Runs a command body and turns its outcome into output and an exit code. */
export async function runCommand(body: () => Promise<number | void>): Promise<void> {
  let code: number;
  try {
    code = (await body()) ?? Exit.Ok;
  } catch (err) {
    code = reportError(err);
  }
  process.exitCode = code;
}

export function reportError(err: unknown): number {
  let code: number = Exit.Failed;
  let message = (err as Error)?.message ?? String(err);
  if (err instanceof CliError) code = err.code;
  else if (err instanceof DomainError) code = err.code === ErrorCode.QueueFull ? Exit.TryLater : err.status === 503 ? Exit.Unavailable : Exit.Refused;
  else if (err instanceof HttpException) {
    const status = err.getStatus();
    code = status === 503 ? Exit.Unavailable : status >= 400 && status < 500 ? Exit.Refused : Exit.Failed;
    const body = err.getResponse();
    if (body && typeof body === 'object' && 'message' in body) message = String((body as { message: unknown }).message);
  }
  process.stderr.write(`backup-manager: ${message}\n`);
  return code;
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/**
 * Calls `poll` every 400 ms until it returns a value (it updates the progress itself); once
 * `signal` is aborted, stops with Exit.Interrupted and the message `stopped()` gives.
 */
export async function pollUntil<T>(signal: AbortSignal, poll: () => Promise<T | undefined>, stopped: () => string): Promise<T> {
  for (;;) {
    const done = await poll();
    if (done !== undefined) return done;
    if (signal.aborted) throw new CliError(stopped(), Exit.Interrupted);
    await new Promise((r) => setTimeout(r, 400));
  }
}

/** Prints a result: JSON for scripts, or the human lines. */
export function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

/** Root of the CLI's queued context. */
@Module({})
class CliQueuedModule {}
