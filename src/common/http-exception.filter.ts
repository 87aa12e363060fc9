import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import { DomainError, ErrorCode } from './errors.js';

const STATUS: Record<ErrorCode, HttpStatus> = {
  [ErrorCode.NotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.BadRequest]: HttpStatus.BAD_REQUEST,
  [ErrorCode.Conflict]: HttpStatus.CONFLICT,
  [ErrorCode.Forbidden]: HttpStatus.FORBIDDEN,
  [ErrorCode.Unauthorized]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.QueueFull]: HttpStatus.TOO_MANY_REQUESTS,
};

/**
 * Maps domain errors to HTTP; unknown errors become a 500 whose body holds only a correlation id
 * (the detail is logged under that id, never sent).
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof DomainError) {
      const status = STATUS[err.code];
      if (err.retryAfterSeconds) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      res.status(status).json({ statusCode: status, error: err.code, message: err.message });
      return;
    }
    if (err instanceof HttpException) {
      const body = err.getResponse();
      res.status(err.getStatus()).json(typeof body === 'string' ? { statusCode: err.getStatus(), message: body } : body);
      return;
    }
    const id = randomUUID();
    this.logger.error(`unhandled error ${id}: ${(err as Error)?.stack ?? String(err)}`);
    res.status(500).json({ statusCode: 500, error: 'INTERNAL', message: `Internal error (correlation id ${id})`, correlationId: id });
  }
}
