import { CronTime, validateCronExpression } from 'cron';
import { invalid } from '../common/errors.js';
import { isValidTimezone } from '../common/timezone.js';

/** Named schedules and the cron expressions they stand for. */
export const PRESETS = {
  hourly: '0 * * * *',
  daily: '0 0 * * *',
  weekly: '0 0 * * 0',
  monthly: '0 0 1 * *',
} as const;
export type Preset = keyof typeof PRESETS;

/** @throws BAD_REQUEST saying what is wrong with the expression. */
export function checkCron(expr: string): void {
  const fields = expr.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    throw invalid(`cron "${expr.slice(0, 128)}" is invalid: it needs 5 fields (minute hour day month weekday) or 6 with seconds first, not ${fields}`);
  }
  const problem = cronProblem(expr);
  if (problem) throw invalid(`cron "${expr.slice(0, 128)}" is invalid: ${problem}`);
}

/** Why the cron library refuses `expr` (presets such as `@daily` pass), or undefined. */
export function cronProblem(expr: string): string | undefined {
  const v = validateCronExpression(expr.trim());
  return v.valid ? undefined : (v.error?.message ?? 'unparseable');
}

/** @throws BAD_REQUEST naming the zone. */
export function checkTimezone(tz: string): void {
  if (!isValidTimezone(tz)) throw invalid(`timezone "${String(tz).slice(0, 64)}" is not an IANA time zone (e.g. UTC, Europe/Berlin, Asia/Jakarta)`);
}

/** The next `count` runs after `from`. */
export function nextRuns(expr: string, tz: string, count: number, from = new Date()): Date[] {
  const ct = new CronTime(expr, tz);
  const out: Date[] = [];
  let at: Date = from;
  for (let i = 0; i < count; i++) {
    at = ct.getNextDateFrom(at, tz).toJSDate();
    out.push(at);
  }
  return out;
}

/** Whether `at` is an exact run time of the expression. */
export function isRunTime(expr: string, tz: string, at: Date): boolean {
  const ct = new CronTime(expr, tz);
  return ct.getNextDateFrom(new Date(at.getTime() - 1), tz).toJSDate().getTime() === at.getTime();
}

/**
 * The run time a tick firing at `now` stands for: the last run time at or before now + `early`
 * ms, looking back `late` ms. Every replica that fires for the same run computes the same value,
 * which names the run across replicas; undefined when the tick is too late to tell.
 */
export function runTimeOfTick(expr: string, tz: string, now = new Date(), early = 500, late = 1500): Date | undefined {
  const ct = new CronTime(expr, tz);
  const limit = now.getTime() + early;
  let at = new Date(now.getTime() - late);
  let last: Date | undefined;
  for (let i = 0; i < 10; i++) {
    at = ct.getNextDateFrom(at, tz).toJSDate();
    if (at.getTime() > limit) break;
    last = at;
  }
  return last;
}
