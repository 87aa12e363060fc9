/**
 * The retention table test's history and cases (test/unit/retention-policy.spec.ts), shared with
 * the cleanup over a large catalog (test/catalog-scale.e2e.spec.ts).
 */
import { expect } from '@jest/globals';
import type { RetentionPolicy } from '../../src/config/options.js';
import { BUILTIN_RETENTION_POLICIES } from '../../src/config/options.js';
import type { RetentionCandidate } from '../../src/scheduler/retention/retention-policy.js';

/**
 * A synthetic two-year history of target `app`, ending on Sunday 2025-06-15 (now = 12:00 UTC):
 * a daily backup at 02:00 every day, a weekly one at 03:00 every Sunday, a monthly one at 04:00
 * on every 1st. Some fail; two old ones are pinned.
 */
export const NOW = new Date('2025-06-15T12:00:00Z');
export const FAILED_DAYS = new Set(['2025-06-13', '2025-06-10', '2025-05-31', '2025-01-31', '2024-12-31', '2024-09-30', '2023-12-29']);
export const FAILED_WEEKLY = new Set(['2025-06-08', '2025-04-27']);
export const PINNED = new Set(['daily-2023-07-04', 'daily-2024-02-29']);
export const SIZE = 1000;

export function rec(target: string, type: string, at: string, status = 'COMPLETED', extra: Partial<RetentionCandidate> = {}): RetentionCandidate {
  const day = at.slice(0, 10);
  const id = `${target === 'app' ? '' : `${target}:`}${type}-${day}`;
  return { id, target, type, status, scope: 'full', includeSchema: true, includeData: true, createdAt: new Date(at), pinned: PINNED.has(id), sizeBytes: status === 'COMPLETED' || status === 'VERIFIED' ? SIZE : null, retentionDays: null, ...extra };
}

/** What a backup holds: the whole database, or less. */
export type Kind = 'data' | 'schema-only' | 'data-only' | 'partial' | 'selective';
export const KIND: Record<Kind, Pick<RetentionCandidate, 'scope' | 'includeSchema' | 'includeData'>> = {
  data: { scope: 'full', includeSchema: true, includeData: true },
  'schema-only': { scope: 'full', includeSchema: true, includeData: false },
  'data-only': { scope: 'full', includeSchema: false, includeData: true },
  partial: { scope: 'partial', includeSchema: true, includeData: true },
  selective: { scope: 'selective', includeSchema: true, includeData: true },
};
/** A manual backup of target `h`, `hoursAgo` before NOW. */
export const of = (id: string, kind: Kind, hoursAgo: number, status = 'COMPLETED'): RetentionCandidate =>
  rec('h', 'manual', new Date(NOW.getTime() - hoursAgo * 3600_000).toISOString(), status, { id, ...KIND[kind] });
export const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

export function history(): RetentionCandidate[] {
  const out: RetentionCandidate[] = [];
  for (let i = 0; i < 730; i++) {
    const d = new Date(Date.UTC(2025, 5, 15 - i));
    const day = d.toISOString().slice(0, 10);
    out.push(rec('app', 'daily', `${day}T02:00:00Z`, FAILED_DAYS.has(day) ? 'FAILED' : 'COMPLETED'));
    if (d.getUTCDay() === 0) out.push(rec('app', 'weekly', `${day}T03:00:00Z`, FAILED_WEEKLY.has(day) ? 'FAILED' : 'COMPLETED'));
    if (d.getUTCDate() === 1) out.push(rec('app', 'monthly', `${day}T04:00:00Z`));
  }
  return out;
}

export const HISTORY = history().sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
export const good = (r: RetentionCandidate) => r.status === 'COMPLETED' || r.status === 'VERIFIED';
export const holdsData = (r: RetentionCandidate) => r.scope === 'full' && r.includeSchema && r.includeData;
export const ctx = (timezone = 'UTC', defaultPolicy = 'p') => ({ now: NOW, timezone, defaultPolicy });
export const ids = (rs: Array<{ id: string }>) => rs.map((r) => r.id).sort();
export const ageDays = (r: RetentionCandidate) => (NOW.getTime() - r.createdAt.getTime()) / 86_400_000;

/** An independent oracle for the tiers: UTC date strings and the textbook ISO-week formula. */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dow);
  const y = t.getUTCFullYear();
  const week = Math.ceil(((t.getTime() - Date.UTC(y, 0, 1)) / 86_400_000 + 1) / 7);
  return `${y}-W${String(week).padStart(2, '0')}`;
}
export function lastBuckets(n: number, step: (i: number) => string): Set<string> {
  return new Set(Array.from({ length: n }, (_, i) => step(i)));
}
export function expectedTiered(records: RetentionCandidate[], keepAll: number, days: number, weeks: number, months: number, years: number): string[] {
  const keep = new Set<string>();
  const sorted = [...records].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  for (const r of sorted) if (ageDays(r) < keepAll || (!good(r) && ageDays(r) < Math.max(keepAll, 1))) keep.add(r.id);
  const tiers: Array<[Set<string>, (d: Date) => string]> = [
    [lastBuckets(days, (i) => new Date(NOW.getTime() - i * 86_400_000).toISOString().slice(0, 10)), (d) => d.toISOString().slice(0, 10)],
    [lastBuckets(weeks, (i) => isoWeek(new Date(NOW.getTime() - i * 7 * 86_400_000))), isoWeek],
    [lastBuckets(months, (i) => new Date(Date.UTC(2025, 5 - i, 1)).toISOString().slice(0, 7)), (d) => d.toISOString().slice(0, 7)],
    [lastBuckets(years, (i) => String(2025 - i)), (d) => String(d.getUTCFullYear())],
  ];
  for (const [window, bucketOf] of tiers) {
    const seen = new Set<string>();
    for (const r of sorted.filter(good)) {
      const b = bucketOf(r.createdAt);
      if (seen.has(b)) continue;
      seen.add(b);
      if (window.has(b)) keep.add(r.id);
    }
  }
  for (const r of records) if (r.pinned) keep.add(r.id);
  keep.add(sorted.find(good)!.id);
  return [...keep].sort();
}

export const gfs: RetentionPolicy = { name: 'p', kind: 'tiered', tiers: { keepAllDays: 7, dailyDays: 14, weeklyWeeks: 8, monthlyMonths: 12, yearlyYears: 3 } };

export interface Case {
  name: string;
  policy: RetentionPolicy;
  records?: RetentionCandidate[];
  timezone?: string;
  expected: () => string[];
  also?: (kept: Set<string>) => void;
}

export const cases: Case[] = [
  {
    name: 'age: 30 days keeps the last 30 days, failures included, and the pinned',
    policy: { name: 'p', kind: 'age', maxAgeDays: 30 },
    expected: () => ids(HISTORY.filter((r) => ageDays(r) < 30 || r.pinned)),
  },
  {
    name: 'per-type: daily newest 7 good, weekly 90 days/12 good, monthly 365 days/12, failures never counted',
    policy: { name: 'p', kind: 'per-type', rules: { daily: { maxAgeDays: 30, maxCount: 7 }, weekly: { maxAgeDays: 90, maxCount: 12 }, monthly: { maxAgeDays: 365, maxCount: 12 } } },
    expected: () => [
      // daily: the 7 newest good ones (06-13 and 06-10 failed but are under 30 days old, so they stay)
      ...['2025-06-15', '2025-06-14', '2025-06-12', '2025-06-11', '2025-06-09', '2025-06-08', '2025-06-07'].map((d) => `daily-${d}`),
      'daily-2025-06-13',
      'daily-2025-06-10',
      'daily-2025-05-31',
      // weekly: Sundays under 90 days old are 03-23 .. 06-15 (13); two failed; the 11 good all fit in 12
      ...['2025-03-23', '2025-03-30', '2025-04-06', '2025-04-13', '2025-04-20', '2025-04-27', '2025-05-04', '2025-05-11', '2025-05-18', '2025-05-25', '2025-06-01', '2025-06-08', '2025-06-15'].map((d) => `weekly-${d}`),
      // monthly: 1sts under 365 days old: 2024-07-01 .. 2025-06-01
      ...Array.from({ length: 12 }, (_, i) => `monthly-${new Date(Date.UTC(2024, 6 + i, 1)).toISOString().slice(0, 10)}`),
      ...PINNED,
    ].sort(),
  },
  {
    name: 'per-type: the built-in standard policy (manual 90/10, daily 30/30, weekly 90/12, monthly 365/12)',
    policy: { ...BUILTIN_RETENTION_POLICIES.find((p) => p.name === 'standard')!, name: 'p' },
    expected: () => {
      const dailies = HISTORY.filter((r) => r.type === 'daily' && ageDays(r) < 30);
      const weeklies = HISTORY.filter((r) => r.type === 'weekly' && ageDays(r) < 90);
      const goodWeeklies = weeklies.filter(good).slice(0, 12);
      const monthlies = HISTORY.filter((r) => r.type === 'monthly' && ageDays(r) < 365);
      return ids([...dailies, ...goodWeeklies, ...weeklies.filter((r) => !good(r)), ...monthlies, ...HISTORY.filter((r) => r.pinned)]);
    },
  },
  {
    name: 'tiered: everything for 7 days, newest per day for 14 days, per ISO week for 8, per month for 12, per year for 3',
    policy: gfs,
    expected: () => expectedTiered(HISTORY, 7, 14, 8, 12, 3),
    also: (kept) => {
      // Month and year ends whose daily failed fall back to the day before.
      expect(kept.has('daily-2025-01-30')).toBe(true);
      expect(kept.has('daily-2024-09-29')).toBe(false); // 09-29 is a Sunday: its weekly (03:00) is newer
      expect(kept.has('weekly-2024-09-29')).toBe(true);
      expect(kept.has('daily-2024-12-30')).toBe(true); // newest good of December and of 2024
      expect(kept.has('weekly-2023-12-31')).toBe(true); // newest of 2023
      expect(kept.has('daily-2024-06-30')).toBe(false); // June 2024 is outside the 12 months
      expect(kept.has('daily-2025-06-13')).toBe(true); // failed, but within the 7 days kept in full
      expect(kept.has('weekly-2025-06-08')).toBe(false); // failed and 7.4 days old
      expect(kept.has('daily-2025-06-08')).toBe(true); // so Sunday the 8th keeps its daily
      expect(kept.has('daily-2025-06-07')).toBe(true); // newest of Saturday the 7th, within the 14 days
      expect(kept.has('daily-2025-05-30')).toBe(true); // May 2025: the 31st failed
    },
  },
  {
    name: 'tiered with no keep-all window: failed records go after one day',
    policy: { name: 'p', kind: 'tiered', tiers: { dailyDays: 3, monthlyMonths: 2 } },
    expected: () => expectedTiered(HISTORY, 0, 3, 0, 2, 0),
  },
  {
    name: 'size cap: the newest backups that fit, pinned ones counted and kept',
    policy: { name: 'p', kind: 'age', maxAgeDays: 3650, maxTotalBytes: 10 * SIZE },
    expected: () => ids([...HISTORY.filter(good).filter((r) => !r.pinned).slice(0, 8), ...HISTORY.filter((r) => r.pinned || !good(r))]),
  },
  {
    name: 'a run of failures never lets the last good backup expire',
    policy: { name: 'p', kind: 'per-type', rules: { daily: { maxAgeDays: 30, maxCount: 5 } } },
    records: [
      ...Array.from({ length: 60 }, (_, i) => rec('b', 'daily', new Date(NOW.getTime() - (i + 1) * 86_400_000).toISOString(), i < 45 ? 'FAILED' : 'COMPLETED')),
    ],
    expected: () => [...Array.from({ length: 29 }, (_, i) => `b:daily-${new Date(NOW.getTime() - (i + 1) * 86_400_000).toISOString().slice(0, 10)}`), `b:daily-${new Date(NOW.getTime() - 46 * 86_400_000).toISOString().slice(0, 10)}`].sort(),
  },
  {
    name: 'max count counts good backups only: 10 fresh failures keep the 5 newest good',
    policy: { name: 'p', kind: 'per-type', rules: { daily: { maxCount: 5 } } },
    records: Array.from({ length: 20 }, (_, i) => rec('c', 'daily', new Date(NOW.getTime() - (i + 1) * 3600_000).toISOString(), i < 10 ? 'FAILED' : 'COMPLETED', { id: `c${i}` })),
    expected: () => [...Array.from({ length: 15 }, (_, i) => `c${i}`)].sort(),
  },
  {
    name: 'the newest VERIFIED backup stays even when newer COMPLETED ones exist',
    policy: { name: 'p', kind: 'per-type', rules: { daily: { maxCount: 2 } } },
    records: Array.from({ length: 6 }, (_, i) => rec('d', 'daily', new Date(NOW.getTime() - (i + 1) * 3600_000).toISOString(), i === 4 ? 'VERIFIED' : 'COMPLETED', { id: `d${i}` })),
    expected: () => ['d0', 'd1', 'd4'],
  },
  {
    name: 'tiers count calendar days in the configured time zone (Asia/Jakarta)',
    policy: { name: 'p', kind: 'tiered', tiers: { dailyDays: 2 } },
    timezone: 'Asia/Jakarta',
    records: [
      rec('e', 'daily', '2025-06-14T16:30:00Z', 'COMPLETED', { id: 'e-2330-local-14th' }),
      rec('e', 'daily', '2025-06-14T17:30:00Z', 'COMPLETED', { id: 'e-0030-local-15th' }),
      rec('e', 'daily', '2025-06-15T10:00:00Z', 'COMPLETED', { id: 'e-1700-local-15th' }),
    ],
    expected: () => ['e-1700-local-15th', 'e-2330-local-14th'],
  },
  {
    name: '... and the same records in UTC keep the other one of the 14th',
    policy: { name: 'p', kind: 'tiered', tiers: { dailyDays: 2 } },
    records: [
      rec('e', 'daily', '2025-06-14T16:30:00Z', 'COMPLETED', { id: 'e-1630Z' }),
      rec('e', 'daily', '2025-06-14T17:30:00Z', 'COMPLETED', { id: 'e-1730Z' }),
      rec('e', 'daily', '2025-06-15T10:00:00Z', 'COMPLETED', { id: 'e-1000Z' }),
    ],
    expected: () => ['e-1000Z', 'e-1730Z'],
  },
  {
    name: 'an explicit per-backup retention overrides the policy; queued and running are never touched',
    policy: { name: 'p', kind: 'age', maxAgeDays: 1 },
    records: [
      rec('f', 'manual', '2025-06-15T11:00:00Z', 'COMPLETED', { id: 'f-new' }),
      rec('f', 'manual', '2025-05-01T00:00:00Z', 'COMPLETED', { id: 'f-keep-90', retentionDays: 90 }),
      rec('f', 'manual', '2025-05-01T00:00:00Z', 'COMPLETED', { id: 'f-gone-10', retentionDays: 10 }),
      rec('f', 'manual', '2025-05-01T00:00:00Z', 'COMPLETED', { id: 'f-old' }),
      rec('f', 'manual', '2025-05-01T00:00:00Z', 'QUEUED', { id: 'f-queued' }),
      rec('f', 'manual', '2025-05-01T00:00:00Z', 'RUNNING', { id: 'f-running' }),
    ],
    expected: () => ['f-keep-90', 'f-new', 'f-queued', 'f-running'],
  },
  {
    name: 'schema-only backups never push the data out: 9 data backups, then 12 schema-only ones, maxCount 3',
    policy: { name: 'p', kind: 'per-type', rules: { manual: { maxCount: 3 } } },
    records: [...range('d', 9).map((id, i) => of(id, 'data', 40 - i)), ...range('s', 12).map((id, i) => of(id, 'schema-only', 20 - i))],
    // Each kind fills its own maxCount: the 3 newest data backups and the 3 newest schema-only ones.
    expected: () => ['d6', 'd7', 'd8', 's10', 's11', 's9'],
    also: (kept) => expect(kept.has('d8')).toBe(true),
  },
  {
    name: 'the newest backup holding data is kept whatever the policy says; fresher schema-only, data-only or partial ones do not stand in for it',
    policy: { name: 'p', kind: 'age', maxAgeDays: 1 },
    records: [
      of('data-10d', 'data', 240),
      of('data-12d', 'data', 288),
      of('partial-5d', 'partial', 120),
      of('schema-1h', 'schema-only', 1),
      of('dataonly-2h', 'data-only', 2),
      of('partial-3h', 'partial', 3),
    ],
    expected: () => ['data-10d', 'dataonly-2h', 'partial-3h', 'schema-1h'],
  },
  {
    name: 'each kind counts on its own: maxCount 1 keeps the newest of each (data, schema-only, data-only, partial, selective)',
    policy: { name: 'p', kind: 'per-type', rules: { manual: { maxCount: 1 } } },
    records: [
      of('failed', 'data', 1, 'FAILED'),
      of('p1', 'partial', 2),
      of('x1', 'selective', 3),
      of('o1', 'data-only', 4),
      of('s1', 'schema-only', 5),
      of('d1', 'data', 6),
      of('p2', 'partial', 7),
      of('x2', 'selective', 8),
      of('o2', 'data-only', 9),
      of('s2', 'schema-only', 10),
      of('d2', 'data', 11),
    ],
    expected: () => ['d1', 'failed', 'o1', 'p1', 's1', 'x1'],
  },
  {
    name: 'tiered: a day\'s slot goes to its newest data backup; schema-only backups fill slots of their own',
    policy: { name: 'p', kind: 'tiered', tiers: { dailyDays: 3 } },
    records: [0, 1, 2, 3].flatMap((d) => [of(`data-${d}`, 'data', d * 24 + 10), of(`schema-${d}`, 'schema-only', d * 24 + 2)]),
    expected: () => ['data-0', 'data-1', 'data-2', 'schema-0', 'schema-1', 'schema-2'],
  },
  {
    name: 'the newest VERIFIED backup kept is the newest VERIFIED one holding data, not a schema-only one',
    policy: { name: 'p', kind: 'per-type', rules: { manual: { maxCount: 1 } } },
    records: [of('d0', 'data', 1), of('s0', 'schema-only', 2, 'VERIFIED'), of('d1', 'data', 3, 'VERIFIED'), of('s1', 'schema-only', 4, 'VERIFIED'), of('d2', 'data', 5, 'VERIFIED')],
    expected: () => ['d0', 'd1', 's0'],
    also: (kept) => expect(kept.has('d2')).toBe(false),
  },
];

