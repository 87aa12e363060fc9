import { applyDecorators, UseGuards, UseInterceptors, UsePipes } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { AuthGuard } from '../auth/auth.guard.js';
import { ErrorResponse } from '../backup/dto/backup-response.dto.js';
import { DomainErrorInterceptor } from './http-errors.js';
import { apiValidationPipe } from './validation.js';

export interface LibraryControllerOptions {
  /** Description of the documented 403; without it the controller documents no 403 (every role may call it). */
  forbidden?: string;
  /** Validate and transform parameters with `apiValidationPipe()` (default true). */
  validate?: boolean;
}

/** The 403 description of controllers whose routes need different roles (`@MinRole` per route). */
export const ROLE_TOO_LOW = 'Role too low for this route';

/**
 * What every library controller carries next to its `@Controller(path)`: Swagger tag, bearer
 * auth and 401 (and 403) docs, the JWT `AuthGuard`, the `DomainErrorInterceptor` and, unless
 * `validate: false`, the validation pipe. No exception filter: the app's own filters (a host's
 * global filter) see the library's errors.
 */
export function LibraryController(tag: string, { forbidden, validate = true }: LibraryControllerOptions = {}): ClassDecorator {
  return applyDecorators(
    ApiTags(tag),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ type: ErrorResponse, description: 'Missing, invalid or expired token' }),
    ...(forbidden === undefined ? [] : [ApiForbiddenResponse({ type: ErrorResponse, description: forbidden })]),
    UseGuards(AuthGuard),
    UseInterceptors(DomainErrorInterceptor),
    ...(validate ? [UsePipes(apiValidationPipe())] : []),
  );
}
