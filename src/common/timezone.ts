/** Whether `tz` is an IANA time zone this runtime knows (e.g. `UTC`, `Europe/Berlin`). */
export function isValidTimezone(tz: string): boolean {
  if (typeof tz !== 'string' || !tz) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Why `tz` is no usable time zone, as a predicate ("is not ..."), or undefined. */
export function timezoneProblem(tz: unknown): string | undefined {
  if (typeof tz === 'string' && isValidTimezone(tz)) return undefined;
  return `is not an IANA time zone: "${String(tz).slice(0, 64)}" (e.g. UTC, Europe/Berlin, Asia/Jakarta)`;
}
