import { Logger, type INestApplicationContext, type LoggerService } from '@nestjs/common';
import { createServer } from 'node:net';

/** The HTTP port cannot be bound (in use, or not permitted): start-up stops with this one message. */
export class ListenError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Turns a failed `listen` into a message that names the port and what to do; other errors pass through. */
export function listenError(err: unknown, port: number, host: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') return new ListenError(`port ${port} on ${host} is already in use: stop the process holding it, or set PORT to a free port`, code);
  if (code === 'EACCES') return new ListenError(`not permitted to listen on port ${port} on ${host}: use a port above 1023, or grant the capability`, code);
  if (code === 'EADDRNOTAVAIL') return new ListenError(`cannot listen on ${host}:${port}: the address is not on this machine (HOST)`, code);
  return err;
}

/**
 * Binds `port` on `host` for an instant and lets it go, so that a port already in use stops
 * start-up before the application (and its workers) starts, with one clear message. Port 0 (any
 * free port) is not checked.
 */
export async function checkPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err) => reject(listenError(err, port, host)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * The service's logger with two of Nest's start-up lines left out: "Nest application
 * successfully started" (Nest prints it once the modules are up, before the port is bound, so it
 * also appeared before a port-in-use failure) and Nest's own copy of a listen error (start-up
 * reports it once, as a `ListenError`). The service logs "listening on ..." itself once bound.
 */
export class StartupLogFilter implements LoggerService {
  constructor(private readonly inner: LoggerService) {}

  log(message: unknown, ...rest: unknown[]): void {
    if (rest.at(-1) === 'NestApplication' && message === 'Nest application successfully started') return;
    this.inner.log(message, ...rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    if (rest.at(-1) === 'NestApplication' && typeof message === 'string' && /^Error: listen E[A-Z]+/.test(message)) return;
    this.inner.error(message, ...rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.inner.warn(message, ...rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.inner.debug?.(message, ...rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.inner.verbose?.(message, ...rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    (this.inner.fatal ?? this.inner.error).call(this.inner, message, ...rest);
  }
}

/** Signals that close the application gracefully. */
const SHUTDOWN_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];

/**
 * Nest's `enableShutdownHooks`, with a log line at each end: the signal received, then how long
 * closing took (the workers' own lines say what they drained). A second signal while closing is
 * ignored; once closed, the process exits 0 (1 if closing failed).
 */
export function closeOnSignals(app: INestApplicationContext, what: string): void {
  const logger = new Logger('Lifecycle');
  let closing = false;
  const onSignal = async (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    const started = Date.now();
    logger.log(`received ${signal}: shutting down the ${what}`);
    try {
      await app.close();
    } catch (err) {
      logger.error(`shutdown failed: ${(err as Error).message}`);
      process.exit(1);
    }
    logger.log(`shut down after ${signal} in ${Date.now() - started} ms`);
    // NOTE: exit rather than re-raise the signal: a process killed by a signal ends without its
    // 'exit' event, which is when the logger writes out what it still buffers (the line above).
    process.exit(0);
  };
  for (const s of SHUTDOWN_SIGNALS) process.on(s, onSignal);
}
