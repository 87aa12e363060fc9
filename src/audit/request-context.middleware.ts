import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { JwtService } from '../auth/jwt.service.js';
import { AuditService } from './audit.service.js';
import { AuditOutcome, AuditSeverity } from './entities/audit-event.entity.js';
import { requestContext } from './request-context.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * For the library's routes: gives each request an id (an incoming valid `X-Request-Id`, else a
 * new UUID, echoed back) and its client IP for the audit trail, and audits refused requests
 * (401 failed authentication, 403 forbidden).
 */
@Injectable()
export class RequestContextMiddleware implements NestMiddleware {
  constructor(
    private readonly audit: AuditService,
    private readonly jwt: JwtService,
  ) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const ctx = { requestId, clientIp: req.ip ?? req.socket.remoteAddress ?? undefined };
    res.setHeader('X-Request-Id', requestId);
    res.on('finish', () => {
      if (res.statusCode !== 401 && res.statusCode !== 403) return;
      requestContext.run(ctx, () => void this.auditRefusal(req, res.statusCode));
    });
    requestContext.run(ctx, next);
  }

  private auditRefusal(req: Request, status: number): Promise<void> {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const actor = m ? this.jwt.verify(m[1]) : 'no bearer token';
    const path = (req.originalUrl ?? req.url).split('?')[0].slice(0, 200);
    return this.audit.record({
      action: status === 401 ? 'auth.login_failed' : 'auth.forbidden',
      actor: typeof actor === 'string' ? 'anonymous' : actor,
      resourceType: 'route',
      resource: `${req.method} ${path}`,
      outcome: AuditOutcome.Failure,
      severity: AuditSeverity.Warning,
      metadata: { status, ...(typeof actor === 'string' ? { reason: actor } : {}) },
    });
  }
}
