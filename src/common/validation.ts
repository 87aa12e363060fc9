import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { ErrorCode } from './error-codes.js';
import { httpError } from './http-errors.js';
import { MAX_JSON_DEPTH } from './json-depth.js';

/** The pipe every controller of the module uses: unknown fields refused, messages name the field. */
export function apiValidationPipe(): ValidationPipe {
  return new ApiValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors: ValidationError[]) => httpError(ErrorCode.ValidationFailed, flatten(errors)),
  });
}

/**
 * Also refuses a NUL character in any string of a body, query or path parameter, before the
 * field rules: PostgreSQL text cannot hold one, and no field of the API needs it.
 */
class ApiValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query' || metadata.type === 'param') {
      const at = nulAt(value, metadata.type === 'param' ? (metadata.data ?? 'param') : '');
      if (at !== undefined) {
        throw httpError(ErrorCode.ValidationFailed, [`${at || 'body'} must not contain a NUL character (\\u0000)`]);
      }
    }
    return super.transform(value, metadata);
  }
}

/**
 * A boolean query parameter: `true`/`1` and `false`/`0`; anything else is left as it came so that
 * `@IsBoolean` refuses it (`includeDeleted=maybe` is an error, not silently false).
 */
export function queryBoolean({ value }: { value: unknown }): unknown {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return value;
}

/** Path of the first string holding a NUL inside `value` (`''` for `value` itself), or undefined. */
function nulAt(value: unknown, path: string, depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path : undefined;
  if (!value || typeof value !== 'object' || depth > MAX_JSON_DEPTH) return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\0')) return path ? `${path}.<key>` : '<key>';
    const found = nulAt(v, Array.isArray(value) ? `${path}[${k}]` : path ? `${path}.${k}` : k, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Constraints that check a value's type: when one fails, the field's other rules say nothing useful. */
const TYPE_CHECKS = new Set(['isString', 'isArray', 'isBoolean', 'isInt', 'isNumber', 'isEnum', 'isIn', 'isDate', 'isObject', 'isUuid']);

function flatten(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((e) => {
    const path = parent ? `${parent}.${e.property}` : e.property;
    // One message per wrong field: `{"target":123}` is "not a string", not also too long and unmatched.
    const failed = Object.entries(e.constraints ?? {});
    const typeFailure = failed.find(([name]) => TYPE_CHECKS.has(name));
    const shown = typeFailure ? [typeFailure[1]] : failed.map(([, m]) => m);
    const own = shown.map((m) => (m.startsWith(e.property) ? m.replace(e.property, path) : `${path}: ${m}`));
    return [...own, ...flatten(e.children ?? [], path)];
  });
}
