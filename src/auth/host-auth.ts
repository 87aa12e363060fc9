import type { CanActivate, ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import { ErrorCode } from '../common/error-codes.js';
import { httpError } from '../common/http-errors.js';
import type { AuthFailureLimiter } from './auth-failure-limiter.js';
import { checkRole, type AuthedRequest } from './role-check.js';
import { Role, ROLES_KEY, roleAllows, type Actor } from './roles.js';

/** Set when a host app authenticates the library's routes with its own guard. */
export const HOST_AUTH = Symbol('BACKUP_MANAGER_HOST_AUTH');

const ROLES = Object.values(Role) as string[];

/**
 * The library's AuthGuard delegates to this when a host guard is configured: the host guard
 * decides who may call at all, then the library's role checks (`@MinRole`) apply to the actor
 * read from the request (by default from `req.user`).
 */
export class HostAuth {
  constructor(
    private readonly guard: CanActivate,
    private readonly actorOf: (req: unknown) => Actor | undefined,
    private readonly limiter: AuthFailureLimiter,
  ) {}

  async authorize(ctx: ExecutionContext, reflector: Reflector): Promise<boolean> {
    const verdict = this.guard.canActivate(ctx);
    const ok = isObservable(verdict) ? await lastValueFrom(verdict) : await verdict;
    if (!ok) return false; // Nest answers 403, as for any guard that says no
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const actor = this.actorOf(req);
    if (!actor) throw httpError(ErrorCode.Unauthorized, 'The host app authenticated no user for this request');
    const needed = reflector.getAllAndOverride<Role>(ROLES_KEY, [ctx.getHandler(), ctx.getClass()]) ?? Role.Viewer;
    checkRole(req, actor, needed, this.limiter, 'user');
    return true;
  }
}

/**
 * Default mapping of a host's `req.user` to an actor: `sub` (or `id`, `username`, `email`), `name`,
 * and `role` (or the highest library role in `roles`), else `defaultRole`.
 */
export function actorFromUser(defaultRole: Actor['role'] = Role.Viewer): (req: unknown) => Actor | undefined {
  return (req) => {
    const user = (req as { user?: Record<string, unknown> }).user;
    if (!user || typeof user !== 'object') return undefined;
    const id = [user.sub, user.id, user.username, user.email].find((v) => typeof v === 'string' || typeof v === 'number');
    if (id === undefined) return undefined;
    const named = [user.role, ...(Array.isArray(user.roles) ? user.roles : [])].filter((r): r is Role => typeof r === 'string' && ROLES.includes(r));
    const role = named.sort((a, b) => (roleAllows(a, b) ? -1 : 1))[0] ?? defaultRole;
    return { sub: String(id), role, name: typeof user.name === 'string' ? user.name : undefined };
  };
}
