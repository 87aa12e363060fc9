import { describe, expect, it } from '@jest/globals';
import { BUILTIN_RETENTION_POLICIES } from '../../src/config/options.js';
import { planRetention } from '../../src/scheduler/retention/retention-policy.js';
import { NOW, rec, HISTORY, good, holdsData, ctx, ids, gfs, cases } from '../support/retention-history.js';

describe('retention as a pure function over a two-year history', () => {
  it('has the history it claims', () => {
    expect(HISTORY.filter((r) => r.type === 'daily')).toHaveLength(730);
    expect(HISTORY.filter((r) => r.pinned)).toHaveLength(2);
    expect(new Set(HISTORY.map((r) => r.id)).size).toBe(HISTORY.length);
  });

  it.each(cases)('$name', ({ policy, records, timezone, expected, also }) => {
    const input = records ?? HISTORY;
    const plan = planRetention(input, [policy], ctx(timezone));
    const kept = new Set(plan.keep.map((d) => d.id));
    expect(ids(plan.keep)).toEqual(expected());
    expect(plan.keep.length + plan.delete.length).toBe(input.length);
    expect(plan.delete.every((d) => d.reasons.length === 1 && d.reasons[0].length > 10)).toBe(true);
    // Always kept: the pinned, and the newest good backup of each target that holds its data.
    for (const r of input.filter((x) => x.pinned)) expect(plan.keep.find((d) => d.id === r.id)?.reasons).toContain('pinned');
    for (const target of new Set(input.map((r) => r.target))) {
      const newest = input.filter((r) => r.target === target && good(r) && holdsData(r)).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
      if (newest) expect(plan.keep.find((d) => d.id === newest.id)?.reasons).toContain('last-good');
    }
    also?.(kept);
  });

  it('sets expiresAt from the policy: creation + max age, the end of a tier window, never for pinned ones', () => {
    const plan = planRetention(HISTORY, [BUILTIN_RETENTION_POLICIES[0]], { now: NOW, timezone: 'UTC', defaultPolicy: 'standard' });
    const daily = plan.keep.find((d) => d.id === 'daily-2025-06-01')!;
    expect(daily.expiresAt).toEqual(new Date('2025-07-01T02:00:00Z'));
    expect(plan.keep.find((d) => d.id === 'monthly-2025-01-01')!.expiresAt).toEqual(new Date('2026-01-01T04:00:00Z'));
    expect(plan.keep.find((d) => d.id === 'daily-2023-07-04')!.expiresAt).toBeNull();

    const tiered = planRetention(HISTORY, [gfs], ctx());
    // The newest of May 2025 is kept by the monthly tier until May 2026 begins (12 months back from then).
    expect(tiered.keep.find((d) => d.id === 'daily-2025-05-30')!.expiresAt).toEqual(new Date('2026-05-01T00:00:00Z'));
    expect(tiered.keep.find((d) => d.id === 'weekly-2023-12-31')!.expiresAt).toEqual(new Date('2026-01-01T00:00:00Z'));
  });

  it('falls back to the default policy for records naming an unknown one', () => {
    const records = [rec('g', 'manual', '2025-01-01T00:00:00Z', 'COMPLETED', { id: 'g1', policy: 'nope' }), rec('g', 'manual', '2025-06-01T00:00:00Z', 'COMPLETED', { id: 'g2', policy: 'nope' })];
    const plan = planRetention(records, [{ name: 'p', kind: 'age', maxAgeDays: 30 }], ctx());
    expect(ids(plan.delete)).toEqual(['g1']);
    expect(plan.delete[0].reasons[0]).toContain('older than 30 days');
  });
});
