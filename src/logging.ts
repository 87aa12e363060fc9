import type { LoggerService } from '@nestjs/common';
import type { RequestHandler } from 'express';
import { pino, type Level, type Logger as Pino } from 'pino';
import { pinoHttp } from 'pino-http';
import { redactRequestForLog } from './common/redact.js';

/**
 * The standalone service's logging: one JSON line per event through pino, for Nest's `Logger`
 * (every library and framework line) and for the access log. Library users never load this: a
 * host keeps its own logger, and the library writes through Nest's `Logger`.
 */
export function createPino(level: string): Pino {
  return pino({
    level,
    // No credential in any line: known headers censored, tokens in URLs and queries masked.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["proxy-authorization"]',
        'req.headers.cookie',
        'req.headers["x-api-key"]',
        'req.headers["x-auth-token"]',
        'res.headers["set-cookie"]',
        '*.password',
      ],
      censor: '***',
    },
  });
}

/** The access log: a line per request (`request completed`), without probes and scrapes. */
export function accessLog(logger: Pino): RequestHandler {
  return pinoHttp({
    logger,
    serializers: { req: redactRequestForLog },
    autoLogging: { ignore: (req) => (req.url?.startsWith('/health') || req.url?.startsWith('/metrics')) ?? false },
  }) as unknown as RequestHandler;
}

/**
 * Nest's `LoggerService` on pino: `log(message, context)` becomes `{"context": ..., "msg": ...}`.
 * An object message is merged into the line; an `Error` goes under `err` with its stack.
 */
export class PinoLogger implements LoggerService {
  constructor(private readonly pino: Pino) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest, true);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest, true);
  }

  private write(level: Level, message: unknown, rest: unknown[], withStack = false): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const params = [...rest];
    // Nest passes the context last (a string); `error` may pass a stack before it.
    const context = params.length && typeof params.at(-1) === 'string' ? (params.pop() as string) : undefined;
    const stack = withStack && typeof params[0] === 'string' ? (params.shift() as string) : undefined;
    const fields: Record<string, unknown> = context ? { context } : {};
    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else if (message && typeof message === 'object') {
      this.pino[level]({ ...fields, ...(message as object) });
    } else {
      this.pino[level](stack ? { ...fields, err: { stack } } : fields, String(message));
    }
  }
}
