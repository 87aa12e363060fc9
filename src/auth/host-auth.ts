import type { CanActivate, ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import { ErrorCode } from '../common/error-codes.js';
import { httpError } from '../common/http-errors.js';
import { tooMany, type AuthFailureLimiter } from './auth-failure-limiter.js';
import { checkRole, type AuthedRequest } from './role-check.js';
import { Role, ROLES_KEY, roleAllows, type Actor } from './roles.js';

/** Set when a host app authenticates the library's routes (the `guard` extra). */
export const HOST_AUTH = Symbol('BACKUP_MANAGER_HOST_AUTH');

/** Prefix of the host roles the default mapping reads: `backup:viewer`, `backup:operator`, `backup:admin`. */
export const DEFAULT_ROLE_PREFIX = 'backup:';

/** What the audit trail says of a request the host app refused before the library's checks. */
export const HOST_REFUSED = 'refused by the host application';

const ROLES = Object.values(Role) as string[];

/**
 * The library's AuthGuard delegates to this when the host authenticates: the host decides who is
 * logged in (its global guard, or the guard class given as `guard`, run only when no global guard
 * has set `req.user` already), the library maps that user to one of its roles and enforces
 * `@MinRole`. A user the mapping does not name gets 403: nobody gets a library role by default.
 */
export class HostAuth {
  constructor(
    /** The host guard to run when the request has no `req.user` yet; none with `guard: 'global'`. */
    private readonly guard: CanActivate | undefined,
    readonly actorOf: (req: unknown) => Actor | undefined,
    private readonly limiter: AuthFailureLimiter,
    private readonly mapping: string,
  ) {}

  async authorize(ctx: ExecutionContext, reflector: Reflector): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthedRequest & { user?: unknown }>();
    if (req.user === undefined && this.guard) {
      let ok: boolean;
      try {
        const verdict = this.guard.canActivate(ctx);
        ok = isObservable(verdict) ? await lastValueFrom(verdict) : await verdict;
      } catch (err) {
        req.refusal = { action: 'auth.login_failed', reason: HOST_REFUSED, throttled: false };
        throw err;
      }
      if (!ok) {
        req.refusal = { action: 'auth.forbidden', reason: HOST_REFUSED, throttled: false };
        return false; // Nest answers 403, as for any guard that says no
      }
    }
    if (req.user === undefined || req.user === null) {
      req.refusal = { action: 'auth.login_failed', reason: 'the host app authenticated no user', throttled: false };
      throw httpError(ErrorCode.Unauthorized, 'The host app authenticated no user for this request');
    }
    const actor = validActor(this.actorOf(req));
    if (!actor) {
      const who = userId(req.user);
      const wait = who ? this.limiter.forbidden.retryAfterMs(who) : 0;
      req.refusal = { action: 'auth.forbidden', actor: who ? ({ sub: who } as Actor) : undefined, reason: 'no backup-manager role', throttled: wait > 0 };
      if (wait > 0) throw tooMany(req.res, wait, 'Too many refused requests by this user');
      if (who) this.limiter.forbidden.fail(who);
      throw httpError(ErrorCode.NoBackupRole, `This user has no backup-manager role; the host app grants one ${this.mapping}`);
    }
    const needed = reflector.getAllAndOverride<Role>(ROLES_KEY, [ctx.getHandler(), ctx.getClass()]) ?? Role.Viewer;
    checkRole(req, actor, needed, this.limiter, 'user');
    return true;
  }
}

/** `actor` when it names a subject and one of the library's roles, else undefined (refused). */
function validActor(actor: Actor | undefined): Actor | undefined {
  if (!actor || typeof actor !== 'object') return undefined;
  if (typeof actor.sub !== 'string' || !actor.sub || !ROLES.includes(actor.role)) return undefined;
  return actor;
}

function userId(user: unknown): string | undefined {
  if (!user || typeof user !== 'object') return undefined;
  const u = user as Record<string, unknown>;
  const id = [u.sub, u.id, u.username, u.email].find((v) => typeof v === 'string' || typeof v === 'number');
  return id === undefined ? undefined : String(id);
}

/**
 * Default mapping of a host's `req.user` to an actor: `sub` (or `id`, `username`, `email`), `name`,
 * and the highest of the roles in `role`/`roles` that are exactly `<prefix>viewer`,
 * `<prefix>operator` or `<prefix>admin` (`backup:admin` by default). Any other role, `admin`
 * included, grants nothing.
 */
export function actorFromNamespacedRoles(prefix = DEFAULT_ROLE_PREFIX): (req: unknown) => Actor | undefined {
  return (req) => {
    const user = (req as { user?: Record<string, unknown> }).user;
    const id = userId(user);
    if (!user || id === undefined) return undefined;
    const held = [user.role, ...(Array.isArray(user.roles) ? user.roles : [])]
      .filter((r): r is string => typeof r === 'string' && r.startsWith(prefix))
      .map((r) => r.slice(prefix.length))
      .filter((r): r is Role => ROLES.includes(r));
    const role = held.sort((a, b) => (roleAllows(a, b) ? -1 : 1))[0];
    if (!role) return undefined;
    return { sub: id, role, name: typeof user.name === 'string' ? user.name : undefined };
  };
}
