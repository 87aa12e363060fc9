import { CanActivate, ExecutionContext, Inject, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ErrorCode } from '../common/error-codes.js';
import { httpError } from '../common/http-errors.js';
import { AuthFailureLimiter, tooMany } from './auth-failure-limiter.js';
import { HOST_AUTH, type HostAuth } from './host-auth.js';
import { TokenVerifier } from './token-verifier.js';
import { checkRole, type AuthedRequest } from './role-check.js';
import { Role, ROLES_KEY } from './roles.js';

export type { AuthedRequest, Refusal } from './role-check.js';

/**
 * Bearer-token guard applied per controller (never globally), with role checks. Clients that
 * keep failing authentication get 429 for a while, but a valid token always passes.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly tokens: TokenVerifier,
    private readonly reflector: Reflector,
    private readonly limiter: AuthFailureLimiter,
    /** Set when a host app authenticates with its own guard (BackupManagerModule `guard`). */
    @Optional() @Inject(HOST_AUTH) private readonly host?: HostAuth,
  ) {}

  canActivate(ctx: ExecutionContext): boolean | Promise<boolean> {
    if (this.host) return this.host.authorize(ctx, this.reflector);
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const actor = m ? this.tokens.verify(m[1]) : undefined;
    if (!actor || typeof actor === 'string') {
      // NOTE: req.ip is the client's only when TRUST_PROXY names the proxies in front.
      const ip = req.ip ?? req.socket?.remoteAddress ?? 'unknown';
      const wait = this.limiter.authentication.retryAfterMs(ip);
      req.refusal = { action: 'auth.login_failed', reason: actor ?? 'no bearer token', throttled: wait > 0 };
      if (wait > 0) throw tooMany(req.res, wait, 'Too many failed authentications from this client');
      this.limiter.authentication.fail(ip);
      throw httpError(ErrorCode.Unauthorized, actor ?? 'Missing bearer token (Authorization: Bearer <jwt>)');
    }
    const needed = this.reflector.getAllAndOverride<Role>(ROLES_KEY, [ctx.getHandler(), ctx.getClass()]) ?? Role.Viewer;
    checkRole(req, actor, needed, this.limiter, 'token');
    return true;
  }
}
