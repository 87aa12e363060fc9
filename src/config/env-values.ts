import { ValidateBy, validateSync } from 'class-validator';
import { DEFAULTS } from './defaults.js';
import { ENV_VARIABLES, type EnvVariable } from './env-variables.js';
import { choicesOf, rangeOf, valueAt } from './validate-options.js';

// A plain variable of `ENV_VARIABLES` read: its bounds and choices, what is wrong with its text, the value it makes.

/** The bounds a variable's integer must keep, in its own unit. */
export function envRange(v: EnvVariable): { min: number; max: number } {
  const option = v.path ? rangeOf(v.path) : undefined;
  const scale = v.scale ?? 1;
  if (option) return { min: Math.ceil(option.min / scale), max: Math.floor(option.max / scale) };
  return { min: v.min ?? 0, max: v.max ?? Number.MAX_SAFE_INTEGER };
}

export function envChoices(v: EnvVariable): readonly string[] {
  return v.choices ?? (v.path ? choicesOf(v.path) : undefined) ?? [];
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

/** Whether `raw` is a value of the variable's kind (unset and empty always are: the default applies). */
function envValueProblem(v: EnvVariable, raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const text = String(raw);
  if (v.kind === 'int') {
    const { min, max } = envRange(v);
    const n = Number(text);
    if (!/^\s*-?\d+\s*$/.test(text) || n < min || n > max) return `${v.name} must be an integer between ${min} and ${max} (got "${text}")`;
  }
  if (v.kind === 'bool' && ![...TRUE, ...FALSE].includes(text.toLowerCase())) return `${v.name} must be true or false (got "${text}")`;
  if (v.kind === 'choice' && !envChoices(v).includes(text)) return `${v.name} must be one of ${envChoices(v).join(', ')} (got "${text}")`;
  return undefined;
}

/**
 * The environment as a class-validator DTO: one property per variable of the table that is read
 * as a plain value, each checked for its kind and bounds.
 */
export class EnvironmentDto {
  [name: string]: unknown;
}
for (const v of ENV_VARIABLES) {
  if (!['int', 'bool', 'choice'].includes(v.kind)) continue;
  ValidateBy({
    name: `env${v.kind}`,
    validator: { validate: (value) => envValueProblem(v, value) === undefined, defaultMessage: (args) => envValueProblem(v, args?.value) ?? '' },
  })(EnvironmentDto.prototype, v.name);
}

/** Every problem of the plain variables (`PORT must be an integer ...`). */
export function environmentProblems(env: Record<string, string | undefined>): string[] {
  const dto = Object.assign(new EnvironmentDto(), env);
  return validateSync(dto).flatMap((e) => Object.values(e.constraints ?? {}));
}

/** A plain variable's value as its option: parsed, scaled, or the default when unset or empty. */
export function envValue(v: EnvVariable, raw: string | undefined): unknown {
  const fallback = v.path ? valueAt(DEFAULTS, v.path) : undefined;
  if (v.kind === 'cron') return raw === undefined ? fallback : raw.trim();
  if (raw === undefined || raw === '') return v.kind === 'list' ? [] : fallback;
  switch (v.kind) {
    case 'int':
      return Number(raw) * (v.scale ?? 1);
    case 'bool':
      return TRUE.includes(raw.toLowerCase());
    case 'list':
      return raw.split(',').map((p) => p.trim()).filter(Boolean);
    default:
      return raw;
  }
}
