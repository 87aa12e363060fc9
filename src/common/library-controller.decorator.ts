import { applyDecorators, UseGuards, UseInterceptors, UsePipes } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AuthGuard } from '../auth/auth.guard.js';
import { ApiErrors, AUTH_ERRORS } from './api-errors.decorator.js';
import { DomainErrorInterceptor } from './http-errors.js';
import { apiValidationPipe } from './validation.js';

export interface LibraryControllerOptions {
  /** What the documented 403 means here (default: a host guard or role mapping refused the user). */
  forbidden?: string;
  /** Validate and transform parameters with `apiValidationPipe()` (default true). */
  validate?: boolean;
}

/** The 403 description of controllers whose routes need different roles (`@MinRole` per route). */
export const ROLE_TOO_LOW = 'Role too low for this route';

/**
 * What every library controller carries next to its `@Controller(path)`: Swagger tag, bearer
 * auth and its 401, 403 and 429 docs, the JWT `AuthGuard`, the `DomainErrorInterceptor` and, unless
 * `validate: false`, the validation pipe. No exception filter: the app's own filters (a host's
 * global filter) see the library's errors.
 */
export function LibraryController(tag: string, { forbidden, validate = true }: LibraryControllerOptions = {}): ClassDecorator {
  return applyDecorators(
    ApiTags(tag),
    ApiBearerAuth(),
    ApiErrors(AUTH_ERRORS, { FORBIDDEN: forbidden ?? 'the host app refused the user' }),
    UseGuards(AuthGuard),
    UseInterceptors(DomainErrorInterceptor),
    ...(validate ? [UsePipes(apiValidationPipe())] : []),
  );
}
