import { CanActivate, ExecutionContext, Inject, Injectable, Optional, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { timingSafeEqual } from 'node:crypto';
import { ErrorCode } from '../common/error-codes.js';
import { httpError } from '../common/http-errors.js';
import { AuthFailureLimiter, tooMany } from './auth-failure-limiter.js';
import { HOST_AUTH, type HostAuth } from './host-auth.js';
import { TokenVerifier } from './token-verifier.js';
import { checkRole, type AuthedRequest } from './role-check.js';
import { Role, ROLES_KEY, type Actor } from './roles.js';
import { ACCOUNT_AUTH, type AccountAuth } from './account-auth.js';
import { CSRF_HEADER, readCookie, SESSION_COOKIE, setSessionCookies } from '../accounts/cookies.js';

export type { AuthedRequest, Refusal } from './role-check.js';

const PUBLIC_KEY = 'backup-manager:public';
/** A route of a guarded controller that needs no credentials (the login itself). */
export const PublicRoute = () => SetMetadata(PUBLIC_KEY, true);

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Bearer-token guard applied per controller (never globally), with role checks. Clients that
 * keep failing authentication get 429 for a while, but a valid token always passes.
 *
 * Credentials, first found wins: `Authorization: Bearer` with a JWT (minted by `backup-manager
 * token`, or a login's session token) or an API token (`bmt_...`); else the dashboard's session
 * cookie, for which every change (POST, PATCH, DELETE) must also carry the session's CSRF token in
 * `X-CSRF-Token` and, when the browser says where it comes from, this service's own origin.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly tokens: TokenVerifier,
    private readonly reflector: Reflector,
    private readonly limiter: AuthFailureLimiter,
    /** Set when a host app authenticates with its own guard (BackupManagerModule `guard`). */
    @Optional() @Inject(HOST_AUTH) private readonly host?: HostAuth,
    /** Logins and API tokens (the accounts module), when registered. */
    @Optional() @Inject(ACCOUNT_AUTH) private readonly accounts?: AccountAuth,
  ) {}

  canActivate(ctx: ExecutionContext): boolean | Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [ctx.getHandler(), ctx.getClass()])) return true;
    if (this.host) return this.host.authorize(ctx, this.reflector);
    return this.authenticate(ctx);
  }

  private async authenticate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const cookie = bearer ? undefined : readCookie(req, SESSION_COOKIE) || undefined;
    const found = bearer ?? cookie;
    let actor: Actor | string;
    if (!found) actor = 'Missing bearer token (Authorization: Bearer <jwt>) or session cookie';
    else if (bearer && this.accounts?.isApiToken(bearer)) {
      const r = await this.accounts.checkApiToken(bearer);
      actor = 'refused' in r ? r.refused : r.actor;
      if (typeof actor !== 'string') req.authKind = 'api-token';
    } else actor = await this.fromJwt(req, found, !!cookie);
    if (typeof actor === 'string') {
      // NOTE: req.ip is the client's only when TRUST_PROXY names the proxies in front.
      const ip = req.ip ?? req.socket?.remoteAddress ?? 'unknown';
      const wait = this.limiter.authentication.retryAfterMs(ip);
      req.refusal = { action: 'auth.login_failed', reason: found ? actor : 'no bearer token', throttled: wait > 0 };
      if (wait > 0) throw tooMany(req.res, wait, 'Too many failed authentications from this client');
      this.limiter.authentication.fail(ip);
      throw httpError(ErrorCode.Unauthorized, actor);
    }
    const needed = this.reflector.getAllAndOverride<Role>(ROLES_KEY, [ctx.getHandler(), ctx.getClass()]) ?? Role.Viewer;
    checkRole(req, actor, needed, this.limiter, 'token');
    return true;
  }

  /** The actor of a JWT (a session's checked against the catalog), or why it is refused. */
  private async fromJwt(req: AuthedRequest, token: string, viaCookie: boolean): Promise<Actor | string> {
    const v = this.tokens.verifyClaims(token);
    if (typeof v === 'string') return viaCookie ? `session cookie: ${v}; log in again` : v;
    if (!v.sid) {
      if (viaCookie) return 'the session cookie holds no login session; log in again';
      req.authKind = 'jwt';
      return v.actor;
    }
    if (!this.accounts) return 'login sessions are not enabled here';
    const check = await this.accounts.checkSession(v.sid);
    if ('refused' in check) return check.refused;
    req.authKind = 'session';
    req.sessionId = v.sid;
    if (viaCookie) {
      if (!SAFE_METHODS.has(req.method)) this.checkCsrf(req, v.csrf!, check.actor);
      const renewed = this.accounts.renew(check, v.csrf!, v.exp);
      if (renewed && req.res) setSessionCookies(req, req.res, renewed.token, v.csrf!, (renewed.expiresAt.getTime() - Date.now()) / 1000);
    }
    return check.actor;
  }

  /** A change sent with the session cookie: same origin, and the session's CSRF token echoed in the header. */
  private checkCsrf(req: AuthedRequest, expected: string, actor: Actor): void {
    const origin = req.headers.origin;
    const sent = req.headers[CSRF_HEADER];
    let problem: string | undefined;
    if (origin && !sameOrigin(origin, req)) problem = `The request comes from another origin (${origin.slice(0, 100)}); the dashboard's changes come from its own`;
    else if (typeof sent !== 'string' || !sent) problem = "This change was sent with the session cookie but without its CSRF token: send the bm_csrf cookie's value in the X-CSRF-Token header";
    else if (sent.length !== expected.length || !timingSafeEqual(Buffer.from(sent), Buffer.from(expected))) problem = 'The X-CSRF-Token header does not match this session; reload the page';
    if (!problem) return;
    req.refusal = { action: 'auth.forbidden', actor, reason: 'CSRF check failed', throttled: false };
    throw httpError(ErrorCode.CsrfRejected, problem);
  }
}

/** Whether the browser's `Origin` is this service's (the `Host` it was reached at, either scheme). */
export function sameOrigin(origin: string, req: Pick<AuthedRequest, 'headers'>): boolean {
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
