import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthedRequest } from './auth.guard.js';
import type { Actor } from './roles.js';

/** The authenticated caller of the current request. */
export const CurrentActor = createParamDecorator((_: unknown, ctx: ExecutionContext): Actor => {
  return ctx.switchToHttp().getRequest<AuthedRequest>().actor ?? { sub: 'anonymous', role: 'viewer' as Actor['role'] };
});
