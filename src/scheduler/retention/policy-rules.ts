import type { RetentionPolicy, SchedulerOptions } from '../../config/options.js';
import type { OptionProblem } from '../../config/validate-options.js';
import { cronProblem } from '../cron.js';

const POLICY_KINDS = ['tiered', 'per-type', 'age'];
const RULE_TYPES = ['manual', 'daily', 'weekly', 'monthly'];
const PLAN_TYPES = ['daily', 'weekly', 'monthly'];
const NON_NEGATIVE_INT = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) >= 0);

/** Why a retention policy is unusable, or undefined when it is fine. */
export function retentionPolicyProblem(p: RetentionPolicy): string | undefined {
  if (!p || typeof p !== 'object') return 'each policy must be an object';
  if (typeof p.name !== 'string' || !/^[a-z0-9_-]{1,64}$/.test(p.name)) return `policy name must match [a-z0-9_-]{1,64} (got ${JSON.stringify(p.name)})`;
  if (!POLICY_KINDS.includes(p.kind)) return `policy ${p.name}: kind must be one of ${POLICY_KINDS.join(', ')}`;
  const numbers: Array<[string, unknown]> = [
    ['maxAgeDays', p.maxAgeDays],
    ['maxTotalBytes', p.maxTotalBytes],
    ...Object.entries(p.tiers ?? {}).map(([k, v]) => [`tiers.${k}`, v] as [string, unknown]),
    ...Object.entries(p.rules ?? {}).flatMap(([t, r]) => [
      [`rules.${t}.maxAgeDays`, r?.maxAgeDays],
      [`rules.${t}.maxCount`, r?.maxCount],
    ] as Array<[string, unknown]>),
  ];
  for (const [k, v] of numbers) if (!NON_NEGATIVE_INT(v)) return `policy ${p.name}: ${k} must be a non-negative integer`;
  for (const t of Object.keys(p.rules ?? {})) {
    if (!RULE_TYPES.includes(t)) return `policy ${p.name}: rules may name ${RULE_TYPES.join(', ')} (got ${t})`;
  }
  if (p.kind === 'tiered' && !p.tiers) return `policy ${p.name}: a tiered policy needs tiers`;
  if (p.kind === 'age' && p.maxAgeDays === undefined) return `policy ${p.name}: an age policy needs maxAgeDays`;
  return undefined;
}

/**
 * Problems of the scheduler options: default plans and their crons, the retention policies, the
 * default policy, the cleanup and drill crons. Paths are relative to `schedules`.
 */
export function schedulerOptionProblems(s: SchedulerOptions): OptionProblem[] {
  const out: OptionProblem[] = [];
  const cron = (path: string, expr: unknown, optional: boolean) => {
    if (optional && (expr === undefined || expr === '')) return;
    const problem = typeof expr === 'string' ? cronProblem(expr) : 'not a string';
    if (problem) out.push({ path, message: `is not a valid cron expression ("${String(expr).slice(0, 128)}": ${problem})` });
  };
  if (!Array.isArray(s.defaultPlans)) out.push({ path: 'defaultPlans', message: 'must be an array of { type, cron }' });
  else {
    s.defaultPlans.forEach((p, i) => {
      if (!PLAN_TYPES.includes(p?.type)) out.push({ path: `defaultPlans[${i}].type`, message: `must be one of ${PLAN_TYPES.join(', ')}` });
      cron(`defaultPlans[${i}].cron`, p?.cron, false);
    });
  }
  const r = s.retention;
  if (!r || typeof r !== 'object') return [...out, { path: 'retention', message: 'must be an object with policies, defaultPolicy and cleanupCron' }];
  const names = new Set<string>();
  if (!Array.isArray(r.policies)) out.push({ path: 'retention.policies', message: 'must be an array of policies' });
  else {
    r.policies.forEach((p, i) => {
      const problem = retentionPolicyProblem(p);
      if (problem) out.push({ path: `retention.policies[${i}]`, message: `is not a valid policy: ${problem}` });
      else if (names.has(p.name)) out.push({ path: `retention.policies[${i}]`, message: `repeats the policy name "${p.name}"` });
      else names.add(p.name);
    });
    if (!names.has(r.defaultPolicy)) out.push({ path: 'retention.defaultPolicy', message: `names no policy: "${String(r.defaultPolicy)}" (known: ${[...names].join(', ')})` });
  }
  cron('retention.cleanupCron', r.cleanupCron, true);
  cron('drillCron', s.drillCron, true);
  return out;
}
