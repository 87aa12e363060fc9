import { CronTime, validateCronExpression } from 'cron';
import { DEFAULT_SCHEDULE_MIN_INTERVAL_MINUTES, type SchedulerOptions } from '../config/options.js';
import type { OptionProblem } from '../config/validate-options.js';

/** Runs looked at: enough for every pattern cron fields can make to show its shortest gap (they repeat within a day or fire less often than the minimum). */
const RUNS = 60;
/** Runs further out than this are not looked at (the cron package gives up past a few years). */
const HORIZON_MS = 2 * 366 * 86_400_000;

/** The two consecutive runs closest together among the next runs after `from`, or undefined with fewer than two runs. */
export function shortestGap(expr: string, tz: string, from = new Date(), stopBelowMs = 0): { ms: number; from: Date; to: Date } | undefined {
  const ct = new CronTime(expr, tz);
  let best: { ms: number; from: Date; to: Date } | undefined;
  let prev: Date | undefined;
  let at = from;
  for (let i = 0; i < RUNS; i++) {
    let next: Date;
    try {
      next = ct.getNextDateFrom(at, tz).toJSDate();
    } catch {
      break; // no further run the cron package can find
    }
    if (next.getTime() - from.getTime() > HORIZON_MS) break;
    if (prev && (!best || next.getTime() - prev.getTime() < best.ms)) {
      best = { ms: next.getTime() - prev.getTime(), from: prev, to: next };
      if (best.ms < stopBelowMs) break;
    }
    prev = next;
    at = next;
  }
  return best;
}

/** Crons found not to run too often, by expression, zone, minimum and hour of the check. */
const PASSED = new Set<string>();

/**
 * Why a valid cron expression fires too often for a minimum interval, or undefined: the shortest
 * gap between its next runs (real time, in zone `tz`, DST changes included) is below `minMinutes`.
 * `setting` names where the minimum is configured, for the message.
 */
export function cronIntervalProblem(expr: string, tz: string, minMinutes: number, setting: string, from = new Date()): string | undefined {
  if (!minMinutes) return undefined;
  const minMs = minMinutes * 60_000;
  // A cron that passes scans all its next runs (slow); the answer holds for the hour.
  const passKey = `${expr}\n${tz}\n${minMinutes}\n${Math.floor(from.getTime() / 3600_000)}`;
  if (PASSED.has(passKey)) return undefined;
  const gap = shortestGap(expr, tz, from, minMs);
  if (!gap || gap.ms >= minMs) {
    if (PASSED.size >= 1000) PASSED.clear();
    PASSED.add(passKey);
    return undefined;
  }
  const local = (d: Date) => d.toLocaleString('sv-SE', { timeZone: tz });
  return (
    `cron "${expr.slice(0, 128)}" runs ${apart(gap.ms)} apart (${local(gap.from)} and ${local(gap.to)} ${tz}); ` +
    `a schedule may run at most once every ${minMinutes} minute${minMinutes === 1 ? '' : 's'}. ` +
    `Choose a cron whose runs are at least that far apart, or change the minimum with ${setting}`
  );
}

function apart(ms: number): string {
  if (ms < 60_000) {
    const s = Math.round(ms / 1000);
    return `${s} second${s === 1 ? '' : 's'}`;
  }
  const m = Math.round((ms / 60_000) * 10) / 10;
  return `${m} minute${m === 1 ? '' : 's'}`;
}

/** Where the minimum is set, for messages of the API: the environment variable and the library option. */
export const MIN_INTERVAL_SETTING = 'SCHEDULE_MIN_INTERVAL_MINUTES (schedules.minIntervalMinutes in forRoot; 0 = no minimum)';

/**
 * The configured crons that run more often than `schedules.minIntervalMinutes` allows: the default
 * plans and the drill cron (invalid expressions and zones are left to their own checks), named by
 * their option paths under `schedules`. One check for the environment and for `forRoot`.
 */
export function scheduleIntervalProblems(s: Pick<SchedulerOptions, 'defaultPlans' | 'drillCron' | 'minIntervalMinutes'>, timezone: string): OptionProblem[] {
  const min = s.minIntervalMinutes ?? DEFAULT_SCHEDULE_MIN_INTERVAL_MINUTES;
  const crons: Array<[string, string | undefined]> = [
    ...(Array.isArray(s.defaultPlans) ? s.defaultPlans : []).map((p, i): [string, string] => [`defaultPlans[${i}].cron`, p?.cron]),
    ['drillCron', s.drillCron],
  ];
  const problems: OptionProblem[] = [];
  for (const [path, expr] of crons) {
    if (typeof expr !== 'string' || !expr.trim() || !validateCronExpression(expr.trim()).valid) continue;
    try {
      const message = cronIntervalProblem(expr.trim(), timezone, min, MIN_INTERVAL_SETTING);
      if (message) problems.push({ path, message: `runs too often: ${message}` });
    } catch {
      // an unknown time zone: reported by its own check
    }
  }
  return problems;
}
