import { Like, type FindOptionsWhere, type ObjectLiteral, type Repository } from 'typeorm';
import { DomainError, ErrorCode } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The short form the CLI prints: the id's first 8 hex digits (more are accepted, up to the whole id). */
const SHORT_ID = /^[0-9a-f]{8}(?:[0-9a-f-]{0,28})$/i;

/** The one UUID check of the code base. */
export function isUuid(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}

/** An id prefix of at least 8 hex digits, as the CLI prints ids in progress lines and tables. */
export function isShortId(id: unknown): id is string {
  return typeof id === 'string' && SHORT_ID.test(id) && !isUuid(id);
}

/**
 * Finds a record by its full id or by an unambiguous prefix of at least 8 characters (the short
 * ids the CLI prints). `what` names the kind (`Backup`) in messages; `notFound` is its code.
 * @throws `notFound` for an unknown or malformed id; AMBIGUOUS_ID when a prefix matches several.
 */
export async function findByIdOrPrefix<T extends ObjectLiteral & { id: string }>(
  repo: Repository<T>,
  id: unknown,
  what: string,
  notFound: ErrorCode,
  opts: { withDeleted?: boolean } = {},
): Promise<T> {
  const shown = String(id).slice(0, 64);
  if (isUuid(id)) {
    const found = await repo.findOne({ where: { id: id.toLowerCase() } as FindOptionsWhere<T>, withDeleted: opts.withDeleted });
    if (!found) throw new DomainError(notFound, `${what} ${shown} not found`);
    return found;
  }
  if (!isShortId(id)) throw new DomainError(notFound, `${what} ${shown} not found (give its id: a UUID, or its first 8 or more characters)`);
  // NOTE: the prefix holds only hex digits and dashes, so it carries no LIKE wildcard.
  const matches = await repo.find({ where: { id: Like(`${id.toLowerCase()}%`) } as FindOptionsWhere<T>, withDeleted: opts.withDeleted, take: 3 });
  if (!matches.length) throw new DomainError(notFound, `${what} ${shown} not found (no id starts with it)`);
  if (matches.length > 1) {
    const some = matches.map((m) => m.id).join(', ');
    throw new DomainError(ErrorCode.AmbiguousId, `The short id ${shown} matches more than one ${what.toLowerCase()} (${some}${matches.length > 2 ? ', …' : ''}); give more characters or the full id`);
  }
  return matches[0];
}
