import { invalid } from '../common/errors.js';

/**
 * The position of a record in the list order (`createdAt` DESC, `id` DESC), as an opaque cursor.
 *
 * The creation time travels exactly as the catalog returned it: a Date on PostgreSQL and
 * MySQL/MariaDB (millisecond columns), the stored text on SQLite, whose rows may hold
 * `2026-01-02 03:04:05` (a database default) or `2026-01-02 03:04:05.678` (written by the
 * driver). Compared as stored, the cursor's time and the column order alike, so no record is
 * skipped or repeated whichever way its time was written.
 */
export interface ListPosition {
  createdAt: Date | string;
  id: string;
}

const TEXT_TIME = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,6})?Z?$/;
const ID = /^[0-9a-f-]{1,36}$/i;

export function encodeCursor(p: ListPosition): string {
  const at = p.createdAt instanceof Date ? ['d', p.createdAt.toISOString()] : ['s', String(p.createdAt)];
  return Buffer.from(JSON.stringify([...at, p.id])).toString('base64url');
}

/** @throws VALIDATION_FAILED for anything this API did not hand out. */
export function decodeCursor(cursor: string): ListPosition {
  const bad = () => invalid('cursor is not one this API returned: pass the `cursor` of a previous page unchanged, or leave it out to start from the newest backup');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw bad();
  const [kind, at, id] = parsed as unknown[];
  if (typeof at !== 'string' || typeof id !== 'string' || !ID.test(id) || !TEXT_TIME.test(at)) throw bad();
  if (kind === 's') return { createdAt: at, id };
  if (kind === 'd') {
    const d = new Date(at);
    if (Number.isNaN(d.getTime())) throw bad();
    return { createdAt: d, id };
  }
  throw bad();
}
