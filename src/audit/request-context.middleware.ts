import { Inject, Injectable, Optional, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { HOST_AUTH, HOST_REFUSED, type HostAuth } from '../auth/host-auth.js';
import { TokenVerifier } from '../auth/token-verifier.js';
import type { AuthedRequest } from '../auth/auth.guard.js';
import { RefusalAuditor, type RefusalEvent } from './refusal-auditor.js';
import { requestContext } from './request-context.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * For the library's routes: gives each request an id (an incoming valid `X-Request-Id`, else a
 * new UUID, echoed back) and its client IP for the audit trail, and audits refused requests
 * (401 failed authentication, 403 forbidden, and the 429s of callers throttled for those),
 * repeats summed up by RefusalAuditor.
 */
@Injectable()
export class RequestContextMiddleware implements NestMiddleware {
  constructor(
    private readonly refusals: RefusalAuditor,
    private readonly tokens: TokenVerifier,
    @Optional() @Inject(HOST_AUTH) private readonly host?: HostAuth,
  ) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const ctx = { requestId, clientIp: req.ip ?? req.socket.remoteAddress ?? undefined };
    res.setHeader('X-Request-Id', requestId);
    res.on('finish', () => {
      const refusal = this.refusalOf(req as AuthedRequest, res.statusCode);
      if (refusal) requestContext.run(ctx, () => this.refusals.record(refusal));
    });
    requestContext.run(ctx, next);
  }

  /** What the guard refused (it says so on the request), or a 401/403 from elsewhere (a host guard). */
  private refusalOf(req: AuthedRequest, status: number): RefusalEvent | undefined {
    // The login route audits its own outcomes (account.login, account.login_failed).
    if ((req as { auditedElsewhere?: boolean }).auditedElsewhere) return undefined;
    const route = `${req.method} ${(req.originalUrl ?? req.url).split('?')[0].slice(0, 200)}`;
    const r = req.refusal;
    if (r && (status === 401 || status === 403 || status === 429)) {
      return { action: r.action, actor: r.actor ?? 'anonymous', route, status, reason: r.reason };
    }
    if (status !== 401 && status !== 403) return undefined;
    if (this.host) {
      // The host authenticates: a refusal the library did not make is the host's (its global
      // guard, say), and a bearer token here is the host's own, not one of the library's JWTs.
      let actor: RefusalEvent['actor'] = req.actor ?? 'anonymous';
      try {
        actor = req.actor ?? this.host.actorOf(req) ?? 'anonymous';
      } catch {
        /* the host's mapping failed on this request: audit it as anonymous */
      }
      return { action: status === 401 ? 'auth.login_failed' : 'auth.forbidden', actor, route, status, reason: HOST_REFUSED };
    }
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const actor = req.actor ?? (m ? this.tokens.verify(m[1]) : 'no bearer token');
    return {
      action: status === 401 ? 'auth.login_failed' : 'auth.forbidden',
      actor: typeof actor === 'string' ? 'anonymous' : actor,
      route,
      status,
      ...(typeof actor === 'string' ? { reason: actor } : {}),
    };
  }
}
