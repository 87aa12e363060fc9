import type { Request } from 'express';
import { ErrorCode } from '../common/error-codes.js';
import { httpError } from '../common/http-errors.js';
import { tooMany, type AuthFailureLimiter } from './auth-failure-limiter.js';
import { roleAllows, type Actor, type Role } from './roles.js';

/** Why the guard refused a request, for the audit trail (which aggregates repeats). */
export interface Refusal {
  action: 'auth.login_failed' | 'auth.forbidden';
  /** The caller, when the token was valid (a refused role check). */
  actor?: Actor;
  reason?: string;
  /** Answered 429 by the limiter rather than 401/403. */
  throttled: boolean;
}

export type AuthedRequest = Request & {
  actor?: Actor;
  refusal?: Refusal;
  /** How the caller authenticated: a minted JWT, a login's session (cookie or bearer), or an API token. */
  authKind?: 'jwt' | 'session' | 'api-token';
  /** The login session, when `authKind` is `session`. */
  sessionId?: string;
};

/**
 * The role check shared by the JWT guard and a host guard: 403 naming the role needed, 429 once
 * the actor has been refused too often in a window (see AuthFailureLimiter).
 */
export function checkRole(req: AuthedRequest, actor: Actor, needed: Role, limiter: AuthFailureLimiter, holder: 'token' | 'user'): void {
  if (roleAllows(actor.role, needed)) {
    req.actor = actor;
    return;
  }
  const wait = limiter.forbidden.retryAfterMs(actor.sub);
  req.refusal = { action: 'auth.forbidden', actor, throttled: wait > 0 };
  if (wait > 0) throw tooMany(req.res, wait, 'Too many refused requests by this user');
  limiter.forbidden.fail(actor.sub);
  throw httpError(ErrorCode.Forbidden, `This action needs the ${needed} role; your ${holder} has ${actor.role}`);
}

