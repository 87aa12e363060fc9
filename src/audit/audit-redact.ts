import { redact } from '../common/redact.js';

/** Keys whose values never reach the audit trail. */
const SENSITIVE = /(pass(word|wd)?|pwd|secret|token|api[-_]?key|private[-_]?key|credential|authorization|cookie|session)/i;
const MAX_STRING = 500;
const MAX_DEPTH = 3;
const MAX_KEYS = 40;

/**
 * A JSON-safe, size-bounded copy of `value` with sensitive keys dropped and every known secret
 * (and any URL password) masked in strings.
 */
export function sanitize(value: unknown, secrets: string[], depth = 0): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === 'string') {
    const s = redact(value, secrets);
    return s.length > MAX_STRING ? `${s.slice(0, MAX_STRING)}…` : s;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) return value.slice(0, MAX_KEYS).map((v) => sanitize(v, secrets, depth + 1));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>).slice(0, MAX_KEYS)) {
      if (SENSITIVE.test(k) || typeof v === 'function') continue;
      out[k] = sanitize(v, secrets, depth + 1);
    }
    return out;
  }
  return undefined;
}

/** Only the scalar fields of an entity-like object, sanitized. */
export function scalars(obj: Record<string, unknown>, secrets: string[], pick?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of pick ?? Object.keys(obj)) {
    const v = obj[k];
    if (v === undefined || SENSITIVE.test(k)) continue;
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v) || v instanceof Date) out[k] = sanitize(v, secrets);
  }
  return out;
}
