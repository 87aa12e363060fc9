import { CanActivate, ExecutionContext, ForbiddenException, HttpException, HttpStatus, Inject, Injectable, Optional, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AuthFailureLimiter } from './auth-failure-limiter.js';
import { HOST_AUTH, type HostAuth } from './host-auth.js';
import { JwtService } from './jwt.service.js';
import { Role, ROLES_KEY, roleAllows, type Actor } from './roles.js';

export type AuthedRequest = Request & { actor?: Actor };

/**
 * Bearer-token guard applied per controller (never globally), with role checks. Clients that
 * keep failing authentication are refused with 429 for a while (see AuthFailureLimiter).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly jwt: JwtService,
    private readonly reflector: Reflector,
    private readonly limiter: AuthFailureLimiter,
    /** Set when a host app authenticates with its own guard (BackupManagerModule `guard`). */
    @Optional() @Inject(HOST_AUTH) private readonly host?: HostAuth,
  ) {}

  canActivate(ctx: ExecutionContext): boolean | Promise<boolean> {
    if (this.host) return this.host.authorize(ctx, this.reflector);
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const ip = req.ip ?? req.socket?.remoteAddress ?? 'unknown';
    const wait = this.limiter.retryAfterMs(ip);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      req.res?.setHeader('Retry-After', String(seconds));
      throw new HttpException(
        { statusCode: 429, error: 'TOO_MANY_REQUESTS', message: `Too many failed authentications from this client; retry in ${seconds} s` },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) {
      this.limiter.fail(ip);
      throw new UnauthorizedException('Missing bearer token (Authorization: Bearer <jwt>)');
    }
    const actor = this.jwt.verify(m[1]);
    if (typeof actor === 'string') {
      this.limiter.fail(ip);
      throw new UnauthorizedException(actor);
    }
    const needed = this.reflector.getAllAndOverride<Role>(ROLES_KEY, [ctx.getHandler(), ctx.getClass()]) ?? Role.Viewer;
    if (!roleAllows(actor.role, needed)) {
      throw new ForbiddenException(`This action needs the ${needed} role; your token has ${actor.role}`);
    }
    req.actor = actor;
    return true;
  }
}
