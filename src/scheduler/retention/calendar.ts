/** Calendar buckets (day, ISO week, month, year) of an instant in an IANA time zone. */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

interface LocalParts {
  y: number;
  m: number;
  d: number;
  h: number;
  min: number;
  s: number;
}

function localParts(ms: number, tz: string): LocalParts {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return { y: p.year, m: p.month, d: p.day, h: p.hour, min: p.minute, s: p.second };
}

/** Local wall-clock minus UTC, in ms, at the instant `ms`. */
function offsetAt(ms: number, tz: string): number {
  const p = localParts(ms, tz);
  return Date.UTC(p.y, p.m - 1, p.d, p.h, p.min, p.s) - Math.floor(ms / 1000) * 1000;
}

const DAY = 86_400_000;

/** Days since 1970-01-01 of the local calendar date of `at`. */
export function dayIndex(at: Date, tz: string): number {
  const p = localParts(at.getTime(), tz);
  return Math.round(Date.UTC(p.y, p.m - 1, p.d) / DAY);
}

/** ISO weeks (Monday first) since the week of 1970-01-05. */
export const weekOfDay = (day: number) => Math.floor((day - 4) / 7);

export function monthIndex(at: Date, tz: string): number {
  const p = localParts(at.getTime(), tz);
  return p.y * 12 + (p.m - 1);
}

export function yearIndex(at: Date, tz: string): number {
  return localParts(at.getTime(), tz).y;
}

/** The instant local midnight of day `day` begins in `tz`. */
export function startOfDay(day: number, tz: string): Date {
  const wall = day * DAY;
  let t = wall - offsetAt(wall, tz);
  t = wall - offsetAt(t, tz);
  return new Date(t);
}

export const startOfWeek = (week: number, tz: string) => startOfDay(week * 7 + 4, tz);
export const startOfMonth = (month: number, tz: string) =>
  startOfDay(Math.round(Date.UTC(Math.floor(month / 12), month % 12, 1) / DAY), tz);
export const startOfYear = (year: number, tz: string) => startOfDay(Math.round(Date.UTC(year, 0, 1) / DAY), tz);
