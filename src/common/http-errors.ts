import { HttpException, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import { catchError, type Observable } from 'rxjs';
import { ERROR_STATUS, errorBody, ErrorCode } from './error-codes.js';
import { DomainError } from './errors.js';

/** An `HttpException` whose body is the API's error body, with its stable `code`. */
export function httpError(code: ErrorCode, message: string | string[]): HttpException {
  return new HttpException(errorBody(code, message), ERROR_STATUS[code]);
}

/** The HTTP form of a domain error; `Retry-After` goes on `res` when the refusal passes. */
export function toHttpException(err: DomainError, res?: Pick<Response, 'setHeader' | 'headersSent'>): HttpException {
  if (err.retryAfterSeconds && res && !res.headersSent) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  return new HttpException(errorBody(err.code, err.message), err.status, { cause: err });
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A request that carries a body not declared as JSON, which the JSON parser therefore left unread. */
function nonJsonBody(req: Request): string | undefined {
  if (!BODY_METHODS.has(req.method)) return undefined;
  const length = req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return undefined;
  const type = req.headers['content-type'];
  if (type && /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) return undefined;
  return type ? `Content-Type "${type.slice(0, 100)}"` : 'no Content-Type';
}

/**
 * What every library controller carries instead of an exception filter: domain errors leave the
 * route as `HttpException`s with the stable `code` in their body, so whatever filter the app has
 * (a host's own global filter, or the standalone service's `ApiExceptionFilter`) renders them.
 * It also refuses a body that is not sent as JSON, with a hint about the header, before the
 * validation pipe would report the unread body as missing fields.
 */
@Injectable()
export class DomainErrorInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = ctx.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    const sent = nonJsonBody(req);
    if (sent) {
      throw httpError(ErrorCode.UnsupportedMediaType, `The request body was sent with ${sent}; send it as JSON with the header Content-Type: application/json`);
    }
    return next.handle().pipe(
      catchError((err: unknown) => {
        throw err instanceof DomainError ? toHttpException(err, res) : err;
      }),
    );
  }
}
