import { holdsData, isGood, newestFirst } from '../../backup/good-backup.js';
import type { RetentionPolicy, RetentionRule } from '../../config/options.js';
import { dayIndex, monthIndex, startOfDay, startOfMonth, startOfWeek, startOfYear, weekOfDay, yearIndex } from './calendar.js';

/** What retention needs to know of one catalog record. */
export interface RetentionCandidate {
  id: string;
  target: string;
  type: string;
  status: string;
  scope: string;
  includeSchema: boolean;
  includeData: boolean;
  createdAt: Date;
  pinned: boolean;
  sizeBytes: number | null;
  /** An explicit per-backup retention (set by whoever requested it): overrides the policy. */
  retentionDays: number | null;
  /** Name of the policy the backup falls under; unknown or absent means the default policy. */
  policy?: string | null;
  /** Orders backups created in the same instant (catalogs may store whole seconds only). */
  startedAt?: Date | null;
}

/** Why a backup is kept. */
export type KeepReason =
  | 'active'
  | 'pinned'
  | 'last-good'
  | 'last-verified'
  | 'explicit-retention'
  | 'keep-all'
  | 'daily'
  | 'weekly'
  | 'monthly'
  | 'yearly'
  | 'max-age'
  | 'max-count'
  | 'no-limit';

export interface RetentionDecision {
  id: string;
  target: string;
  type: string;
  status: string;
  createdAt: Date;
  sizeBytes: number | null;
  policy: string;
  action: 'keep' | 'delete';
  /** Keep reasons (codes), or one sentence saying why the backup goes. */
  reasons: string[];
  /** When the policy lets the backup go, as far as it is known now (a last good backup stays past it); null: pinned or no limit. */
  expiresAt: Date | null;
}

export interface RetentionPlan {
  keep: RetentionDecision[];
  delete: RetentionDecision[];
}

export interface RetentionContext {
  now: Date;
  /** Zone whose calendar days, ISO weeks, months and years the tiers count. */
  timezone: string;
  defaultPolicy: string;
}

const ACTIVE = new Set(['QUEUED', 'RUNNING']);
const DAY = 86_400_000;

const addDays = (d: Date, days: number) => new Date(d.getTime() + days * DAY);

/**
 * Which kind of copy a backup is, for counting: '' for a backup that holds the whole database
 * (see `holdsData`), else e.g. 'schema-only', 'data-only', 'partial', 'selective schema-only'.
 * Each kind fills its own `maxCount` and tier slots, so no kind pushes another out.
 */
export function retentionLane(r: Pick<RetentionCandidate, 'scope' | 'includeSchema' | 'includeData'>): string {
  if (holdsData(r)) return '';
  const what = !r.includeData ? 'schema-only' : !r.includeSchema ? 'data-only' : '';
  return [r.scope === 'full' ? '' : r.scope, what].filter(Boolean).join(' ');
}

interface Verdict {
  keep: KeepReason[];
  deleteReason?: string;
  expiresAt: Date | null;
}

/**
 * Decides which backups a set of retention policies keeps. Pure: same input, same output.
 *
 * - QUEUED and RUNNING backups are never touched.
 * - Pinned backups, and the newest good (COMPLETED or VERIFIED) and newest VERIFIED backup of each
 *   target that holds its data (full scope, schema and data), are always kept, whatever the rules
 *   say. Schema-only, data-only, partial and selective backups never stand in for them.
 * - Only good backups count towards tiers and `maxCount`, so failures never push a good backup
 *   out; failed, corrupted and cancelled records go once they are past the age limit (for tiered
 *   policies: past `keepAllDays`, at least one day).
 * - Each kind of copy (`retentionLane`) counts on its own: schema-only backups fill their own
 *   `maxCount` and tier slots, never the ones of the backups that hold the data.
 */
export function planRetention(records: RetentionCandidate[], policies: RetentionPolicy[], ctx: RetentionContext): RetentionPlan {
  const byName = new Map(policies.map((p) => [p.name, p]));
  const fallback = byName.get(ctx.defaultPolicy);
  if (!fallback) throw new Error(`Unknown default retention policy ${ctx.defaultPolicy}`);
  const policyOf = (r: RetentionCandidate) => (r.policy && byName.get(r.policy)) || fallback;

  const verdicts = new Map<string, Verdict>();
  const groups = new Map<string, RetentionCandidate[]>();
  const protectedBy = new Map<string, KeepReason[]>();
  const protect = (r: RetentionCandidate, why: KeepReason) => protectedBy.set(r.id, [...(protectedBy.get(r.id) ?? []), why]);

  const settled = records.filter((r) => !ACTIVE.has(r.status));
  for (const r of records) if (ACTIVE.has(r.status)) verdicts.set(r.id, { keep: ['active'], expiresAt: null });

  // Per target: the newest good and the newest VERIFIED backup that hold the data.
  const newestGood = new Map<string, RetentionCandidate>();
  const newestVerified = new Map<string, RetentionCandidate>();
  for (const r of [...settled].sort(newestFirst)) {
    if (r.pinned) protect(r, 'pinned');
    if (!holdsData(r)) continue;
    if (isGood(r) && !newestGood.has(r.target)) newestGood.set(r.target, r);
    if (r.status === 'VERIFIED' && !newestVerified.has(r.target)) newestVerified.set(r.target, r);
  }
  for (const r of newestGood.values()) protect(r, 'last-good');
  for (const r of newestVerified.values()) protect(r, 'last-verified');

  for (const r of settled) {
    if (r.retentionDays != null && r.retentionDays > 0) {
      const expiresAt = addDays(r.createdAt, r.retentionDays);
      verdicts.set(
        r.id,
        expiresAt > ctx.now
          ? { keep: ['explicit-retention'], expiresAt }
          : { keep: [], deleteReason: `its own retention of ${r.retentionDays} days has passed`, expiresAt },
      );
      continue;
    }
    const key = `${r.target}\u0000${policyOf(r).name}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }

  for (const group of groups.values()) {
    const policy = policyOf(group[0]);
    group.sort(newestFirst);
    if (policy.kind === 'tiered') applyTiers(group, policy, ctx, verdicts);
    else applyRules(group, policy, ctx, verdicts);
    if (policy.maxTotalBytes) applySizeCap(group, policy.maxTotalBytes, verdicts, protectedBy);
  }

  const plan: RetentionPlan = { keep: [], delete: [] };
  for (const r of [...records].sort(newestFirst)) {
    const v = verdicts.get(r.id) ?? { keep: ['no-limit'], expiresAt: null };
    const shield = protectedBy.get(r.id);
    const decision: RetentionDecision = {
      id: r.id,
      target: r.target,
      type: r.type,
      status: r.status,
      createdAt: r.createdAt,
      sizeBytes: r.sizeBytes,
      policy: r.retentionDays ? 'explicit' : policyOf(r).name,
      action: 'keep',
      reasons: [...(shield ?? []), ...v.keep],
      expiresAt: r.pinned ? null : v.expiresAt,
    };
    if (v.deleteReason && !shield) {
      plan.delete.push({ ...decision, action: 'delete', reasons: [v.deleteReason] });
    } else {
      plan.keep.push(decision);
    }
  }
  return plan;
}

function applyRules(group: RetentionCandidate[], policy: RetentionPolicy, ctx: RetentionContext, verdicts: Map<string, Verdict>): void {
  const seen = new Map<string, number>();
  for (const r of group) {
    const rule: RetentionRule =
      policy.kind === 'per-type' ? (policy.rules?.[r.type as keyof NonNullable<RetentionPolicy['rules']>] ?? { maxAgeDays: policy.maxAgeDays }) : { maxAgeDays: policy.maxAgeDays };
    const label = policy.kind === 'per-type' && policy.rules?.[r.type as 'manual'] ? `the ${r.type} rule` : `policy ${policy.name}`;
    const expiresAt = rule.maxAgeDays !== undefined ? addDays(r.createdAt, rule.maxAgeDays) : null;
    const keep: KeepReason[] = [];
    if (expiresAt && expiresAt <= ctx.now) {
      verdicts.set(r.id, { keep, deleteReason: `older than ${rule.maxAgeDays} days (${label})`, expiresAt });
      continue;
    }
    if (expiresAt) keep.push('max-age');
    if (isGood(r) && rule.maxCount !== undefined) {
      const lane = retentionLane(r);
      const key = `${r.type}\u0000${lane}`;
      const rank = (seen.get(key) ?? 0) + 1;
      seen.set(key, rank);
      if (rank > rule.maxCount) {
        verdicts.set(r.id, { keep, deleteReason: `beyond the newest ${rule.maxCount} ${r.type}${lane ? ` ${lane}` : ''} backups (${label})`, expiresAt: ctx.now });
        continue;
      }
      keep.push('max-count');
    }
    verdicts.set(r.id, { keep: keep.length ? keep : ['no-limit'], expiresAt });
  }
}

type Tier = { reason: KeepReason; count: number; index: (at: Date) => number; start: (i: number) => Date };

function applyTiers(group: RetentionCandidate[], policy: RetentionPolicy, ctx: RetentionContext, verdicts: Map<string, Verdict>): void {
  const tz = ctx.timezone;
  const t = policy.tiers ?? {};
  const tiers: Tier[] = [
    { reason: 'daily' as const, count: t.dailyDays ?? 0, index: (at: Date) => dayIndex(at, tz), start: (i: number) => startOfDay(i, tz) },
    { reason: 'weekly' as const, count: t.weeklyWeeks ?? 0, index: (at: Date) => weekOfDay(dayIndex(at, tz)), start: (i: number) => startOfWeek(i, tz) },
    { reason: 'monthly' as const, count: t.monthlyMonths ?? 0, index: (at: Date) => monthIndex(at, tz), start: (i: number) => startOfMonth(i, tz) },
    { reason: 'yearly' as const, count: t.yearlyYears ?? 0, index: (at: Date) => yearIndex(at, tz), start: (i: number) => startOfYear(i, tz) },
  ].filter((x) => x.count > 0);
  const keepAll = t.keepAllDays ?? 0;
  const failedWindow = Math.max(keepAll, 1);

  const kept = new Map<string, { keep: KeepReason[]; expiresAt: Date | null }>();
  const mark = (r: RetentionCandidate, reason: KeepReason, expiresAt: Date) => {
    const k = kept.get(r.id) ?? { keep: [], expiresAt: null };
    k.keep.push(reason);
    if (!k.expiresAt || expiresAt > k.expiresAt) k.expiresAt = expiresAt;
    kept.set(r.id, k);
  };
  const good = group.filter(isGood);
  for (const r of good) {
    const until = addDays(r.createdAt, keepAll);
    if (keepAll > 0 && until > ctx.now) mark(r, 'keep-all', until);
  }
  for (const tier of tiers) {
    const current = tier.index(ctx.now);
    // Buckets taken, per kind of copy: each kind has its own slots.
    const taken = new Set<string>();
    for (const r of good) {
      const i = tier.index(r.createdAt);
      const bucket = `${retentionLane(r)}\u0000${i}`;
      if (taken.has(bucket)) continue;
      taken.add(bucket); // `good` is newest first: the first seen is the bucket's newest
      if (i > current - tier.count) mark(r, tier.reason, tier.start(i + tier.count));
    }
  }
  for (const r of group) {
    const k = kept.get(r.id);
    if (k) {
      verdicts.set(r.id, k);
    } else if (!isGood(r)) {
      const expiresAt = addDays(r.createdAt, failedWindow);
      verdicts.set(
        r.id,
        expiresAt > ctx.now
          ? { keep: ['keep-all'], expiresAt }
          : { keep: [], deleteReason: `${r.status.toLowerCase()} and older than ${failedWindow} days (policy ${policy.name})`, expiresAt },
      );
    } else {
      verdicts.set(r.id, { keep: [], deleteReason: `not the newest of any kept day, week, month or year (policy ${policy.name})`, expiresAt: ctx.now });
    }
  }
}

/** Drops the oldest kept, unprotected backups of a target until its kept bytes fit the cap. */
function applySizeCap(group: RetentionCandidate[], cap: number, verdicts: Map<string, Verdict>, protectedBy: Map<string, KeepReason[]>): void {
  const kept = group.filter((r) => !verdicts.get(r.id)?.deleteReason);
  let total = kept.reduce((sum, r) => sum + (r.sizeBytes ?? 0), 0);
  for (const r of [...kept].reverse()) {
    if (total <= cap) break;
    if (protectedBy.has(r.id) || !r.sizeBytes) continue;
    verdicts.set(r.id, { keep: [], deleteReason: `the target's backups exceed the ${cap}-byte cap`, expiresAt: verdicts.get(r.id)?.expiresAt ?? null });
    total -= r.sizeBytes;
  }
}
