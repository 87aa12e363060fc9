import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import { codeForStatus, errorBody, ErrorCode, isErrorCode, type ErrorBody } from './error-codes.js';
import { DomainError } from './errors.js';
import { toHttpException } from './http-errors.js';

/** Errors of the body parser (`http-errors`): a status, a type and a message safe to show. */
interface ParserError {
  status: number;
  type?: string;
  expose?: boolean;
  message: string;
  limit?: number;
}

function isParserError(err: unknown): err is ParserError {
  const e = err as Partial<ParserError> | null;
  return !!e && typeof e === 'object' && typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true;
}

/** The API's error body for a body-parser error, with a message saying what to change. */
function parserErrorBody(err: ParserError): ErrorBody {
  switch (err.type) {
    case 'entity.too.large':
      return errorBody(ErrorCode.PayloadTooLarge, `The request body is larger than the limit of ${err.limit ?? '?'} bytes (HTTP_BODY_LIMIT_KB)`);
    case 'entity.parse.failed':
      return errorBody(ErrorCode.InvalidJson, `The request body is not valid JSON (${err.message}); send a JSON object with Content-Type: application/json`);
    case 'entity.too.deep':
      return errorBody(ErrorCode.InvalidJson, err.message);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return errorBody(ErrorCode.UnsupportedMediaType, `${err.message}; send the body as UTF-8 JSON`);
    default:
      return errorBody(codeForStatus(err.status), err.message, err.status);
  }
}

/**
 * The standalone service's global filter: every error leaves in the API's one body shape
 * `{ statusCode, code, error, message }`, including those raised before any route runs (unknown
 * route, body too large or not JSON). Unknown errors become a 500 whose body holds only a
 * correlation id (the detail is logged under that id, never sent). The library itself installs
 * no filter: inside a host app, the host's filters render the library's `HttpException`s.
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
    if (err instanceof DomainError) err = toHttpException(err, res);
    // The platform wraps body-parser errors in an HttpException; their cause says which problem.
    const parserError = err instanceof HttpException && isParserError(err.cause) ? err.cause : isParserError(err) ? err : undefined;
    if (parserError) {
      const body = parserErrorBody(parserError);
      res.status(body.statusCode).json(body);
      return;
    }
    if (err instanceof HttpException) {
      const status = err.getStatus();
      const body = err.getResponse();
      if (typeof body === 'object' && body !== null && !('message' in body)) {
        // A structured body of another kind (the health checks' report): sent as it is.
        res.status(status).json(body);
        return;
      }
      const given = typeof body === 'string' ? { message: body } : (body as { code?: unknown; message?: string | string[] });
      const code = isErrorCode(given.code) ? given.code : codeForStatus(status);
      res.status(status).json(errorBody(code, given.message ?? err.message, status));
      return;
    }
    const id = randomUUID();
    this.logger.error(`unhandled error ${id}: ${(err as Error)?.stack ?? String(err)}`);
    res.status(500).json({ ...errorBody(ErrorCode.Internal, `Internal error (correlation id ${id})`), correlationId: id });
  }
}
