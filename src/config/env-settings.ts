import { isIP } from 'node:net';
import { BUILTIN_RETENTION_POLICIES, DEFAULTS } from './defaults.js';
import type { Env } from './env-files.js';
import type { DefaultPlan, EncryptionOptions, RetentionPolicy } from './options.js';

// The variables `loadConfig` reads itself that are single values: encryption recipients, plans, retention, JSON lists, dashboard path, proxies.

/**
 * `BACKUP_ENCRYPTION_RECIPIENTS`: recipients given inline (`age1…`, comma- or space-separated),
 * or else the path of a file of them.
 */
export function recipientsOf(raw: string | undefined): Pick<EncryptionOptions, 'recipients' | 'recipientsFile'> {
  const v = raw?.trim();
  if (!v) return {};
  if (/^age1/i.test(v)) return { recipients: v.split(/[\s,]+/).filter(Boolean) };
  return { recipientsFile: v };
}

/** The crons of the default daily, weekly and monthly plans (an empty cron drops its plan). */
export function defaultPlans(env: Env): DefaultPlan[] {
  return DEFAULTS.schedules.defaultPlans
    .map((p) => ({ type: p.type, cron: env[`SCHEDULER_${p.type.toUpperCase()}_CRON`]?.trim() ?? p.cron }))
    .filter((p) => p.cron);
}

/**
 * The built-in policies, overridden or added to by name by `RETENTION_POLICIES` (a JSON array),
 * capped by `RETENTION_MAX_TOTAL_BYTES` where a policy sets no cap. Each policy is checked with
 * the other options (scheduler/retention's rules).
 */
export function retentionPolicies(env: Env, problems: string[]): RetentionPolicy[] {
  const byName = new Map(BUILTIN_RETENTION_POLICIES.map((p) => [p.name, p]));
  if (env.RETENTION_POLICIES) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.RETENTION_POLICIES);
    } catch (err) {
      problems.push(`RETENTION_POLICIES must be a JSON array of policies (${(err as Error).message})`);
    }
    if (parsed !== undefined && !Array.isArray(parsed)) problems.push('RETENTION_POLICIES must be a JSON array of policies');
    for (const p of Array.isArray(parsed) ? (parsed as RetentionPolicy[]) : []) byName.set(p && typeof p === 'object' && typeof p.name === 'string' ? p.name : `#${byName.size}`, p);
  }
  let cap: number | undefined;
  const rawCap = env.RETENTION_MAX_TOTAL_BYTES;
  if (rawCap) {
    if (/^\s*\d+\s*$/.test(rawCap) && Number(rawCap) >= 1 && Number(rawCap) <= Number.MAX_SAFE_INTEGER) cap = Number(rawCap);
    else problems.push(`RETENTION_MAX_TOTAL_BYTES must be an integer between 1 and ${Number.MAX_SAFE_INTEGER} (got "${rawCap}")`);
  }
  return [...byName.values()].map((p) => (cap && p && typeof p === 'object' && p.maxTotalBytes === undefined ? { ...p, maxTotalBytes: cap } : p));
}

/** A variable holding a JSON array (each element is checked with the options). */
export function parseJsonList<T>(name: string, raw: string | undefined, problems: string[]): T[] {
  if (!raw?.trim()) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (Array.isArray(parsed)) return parsed as T[];
    problems.push(`${name} must be a JSON array`);
  } catch (err) {
    problems.push(`${name} must be a JSON array (${(err as Error).message})`);
  }
  return [];
}

/** Paths the dashboard may not take: the API's and the probes'. */
const RESERVED_PATHS = ['api', 'docs', 'docs-json', 'health', 'metrics'];

/** `DASHBOARD_PATH` normalised to `/` or `/a/b` (no trailing slash), or a problem. */
export function dashboardPath(raw: string, problems: string[]): string {
  const path = `/${raw.trim().replace(/^\/+|\/+$/g, '')}`;
  if (!/^\/([A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*)?$/.test(path) || path.split('/').some((p) => p === '.' || p === '..')) {
    problems.push(`DASHBOARD_PATH must be / or a path of letters, digits and . _ ~ - segments, e.g. /ui (got "${raw}")`);
    return '/';
  }
  const first = path.split('/')[1];
  if (RESERVED_PATHS.includes(first)) problems.push(`DASHBOARD_PATH may not be under /${first}: that is the service's own (got "${raw}")`);
  return path;
}

const PROXY_PRESETS = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `TRUST_PROXY`: empty/false/0 (off), a hop count, or a comma-separated list of proxy addresses,
 * CIDR subnets and Express presets (loopback, linklocal, uniquelocal). `true` is refused: trusting
 * every hop lets any client choose its own IP, and so dodge (or aim) the per-IP limits.
 */
export function parseTrustProxy(raw: string | undefined, problems: string[]): false | number | string[] {
  const v = raw?.trim() ?? '';
  if (v === '' || /^(false|off|no|0)$/i.test(v)) return false;
  if (/^\d+$/.test(v)) return Number(v);
  if (/^(true|on|yes)$/i.test(v)) {
    problems.push('TRUST_PROXY=true would trust any X-Forwarded-For a client sends; give the number of proxies in front (e.g. 1) or their addresses/subnets');
    return false;
  }
  const entries = v.split(',').map((e) => e.trim()).filter(Boolean);
  const bad = entries.filter((e) => {
    if (PROXY_PRESETS.includes(e)) return false;
    const [addr, bits, extra] = e.split('/');
    const family = isIP(addr);
    if (!family || extra !== undefined) return true;
    return bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  });
  if (bad.length) problems.push(`TRUST_PROXY must be a hop count or a list of addresses, CIDR subnets and ${PROXY_PRESETS.join('/')} (not: ${bad.join(', ')})`);
  return entries;
}
