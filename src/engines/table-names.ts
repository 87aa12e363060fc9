import type { EngineKind } from '../config/options.js';

/**
 * Table names as the API, the catalog, the CLI and the logs write them: one canonical text per
 * table, and one parser for every way a name comes in.
 *
 * PostgreSQL: SQL identifier syntax. A part stays bare when it is all lower-case ASCII letters,
 * digits and `_` and does not start with a digit; otherwise it is double-quoted, with an inner
 * `"` doubled. Tables in `public` are written without their schema (`orders`, `"public.fake"`),
 * others as `schema.table` (`sales.orders`, `"we.ird"."Mixed Case"`). Unlike `quote_ident`,
 * keywords are not quoted: a table named `user` stays `user`, so a name's text never depends on
 * the server's (or pg_dump's) keyword list, and names recorded before quoting existed keep their
 * text.
 *
 * MySQL/MariaDB: the table's exact name, unquoted (`x.fake`, ``back`tick``, `Mixed Case`): a
 * table belongs to the target's one database, so no part separator is needed and every text is
 * unambiguous.
 */

/** How the API writes and reads table names (OpenAPI descriptions of every `tables` field). */
export const TABLE_NAMES_DOC =
  'Table names as GET /targets/{name}/tables lists them. PostgreSQL: `table` (schema public) or `schema.table`, ' +
  'each part double-quoted unless it is all lower-case letters, digits and _ (not starting with a digit), a quote inside doubled: ' +
  '`orders`, `sales.items`, `"Mixed Case"`, `"public.fake"`, `"we.ird"."quo""te"`. Also accepted: `public.orders`, a quoted part ' +
  'that needs no quotes, and an unquoted part taken exactly as written (`Mixed Case`); a part holding a dot or a double quote must be quoted. ' +
  'MySQL/MariaDB: the exact name, unquoted (`x.fake`, `Mixed Case`; dots, quotes and backticks are ordinary characters).';

/** A PostgreSQL table: its exact schema and table names. */
export interface PgTableName {
  schema: string;
  table: string;
}

/** A table name that cannot be read; the message says what to fix. */
export class TableNameError extends Error {}

const BARE = /^[a-z_][a-z0-9_]*$/;

/** One PostgreSQL identifier part, quoted when it is not a bare lower-case identifier. */
export function formatPgIdentPart(part: string): string {
  return BARE.test(part) ? part : `"${part.replace(/"/g, '""')}"`;
}

/** The canonical text of a PostgreSQL table (schema left out for `public`). */
export function formatPgTable(name: PgTableName): string {
  const table = formatPgIdentPart(name.table);
  return name.schema === 'public' ? table : `${formatPgIdentPart(name.schema)}.${table}`;
}

/**
 * Reads a PostgreSQL table name: `table` or `schema.table` (no schema means `public`), each part
 * double-quoted (`""` for a quote inside) or bare. A bare part is taken exactly as written, with
 * no case folding, so `Mixed Case` means the table `"Mixed Case"`; a part that holds a dot or a
 * double quote must be quoted.
 * @throws TableNameError saying what is wrong and how to write the name.
 */
export function parsePgTable(text: string): PgTableName {
  const parts: string[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new TableNameError(`table name ${JSON.stringify(text)} ${why}`);
  };
  if (!text) fail('is empty');
  for (;;) {
    let part = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) fail('has an opening double quote without its closing one (write a quote inside a quoted name as "")');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += text[i++];
      }
      if (!part) fail('has an empty quoted part ("")');
      if (i < text.length && text[i] !== '.') fail('has characters after a closing double quote (quote the whole part, or separate schema and table with a dot)');
    } else {
      while (i < text.length && text[i] !== '.' && text[i] !== '"') part += text[i++];
      if (text[i] === '"') fail('has a double quote inside an unquoted part (quote the part and double the quote inside, e.g. "quo""te")');
      if (!part) fail('has an empty part (write schema.table or table; quote a name that holds a dot, e.g. "a.b")');
    }
    parts.push(part);
    if (i >= text.length) break;
    i++; // the dot
    if (i >= text.length) fail('has an empty part after its last dot (write schema.table or table)');
  }
  if (parts.length > 2) fail('has more than two dot-separated parts: quote the schema or table name that holds a dot, e.g. "we.ird".t or s."a.b"');
  return parts.length === 1 ? { schema: 'public', table: parts[0] } : { schema: parts[0], table: parts[1] };
}

/**
 * The canonical text of a table name given in any accepted spelling (PostgreSQL:
 * `public."a.b"` → `"a.b"`, `"user"` → `user`; MySQL: the name itself).
 * @throws TableNameError for a name that cannot be read.
 */
export function canonicalTableName(engine: EngineKind, text: string): string {
  if (engine === 'mysql') {
    if (!text) throw new TableNameError('table name "" is empty');
    return text;
  }
  return formatPgTable(parsePgTable(text));
}

/**
 * The canonical text of a name read from a catalog record, or the text itself when it cannot be
 * read (kept so a comparison reports it rather than failing).
 */
export function canonicalTableKey(engine: EngineKind, text: string): string {
  try {
    return canonicalTableName(engine, text);
  } catch {
    return text;
  }
}

/** A PostgreSQL identifier for SQL statements: always double-quoted, so it is taken literally. */
export function pgQuoteIdent(part: string): string {
  return `"${part.replace(/"/g, '""')}"`;
}

/** `"schema"."table"` for SQL statements. */
export function pgQualifiedSql(name: PgTableName): string {
  return `${pgQuoteIdent(name.schema)}.${pgQuoteIdent(name.table)}`;
}

/**
 * A `pg_dump --table` pattern that matches exactly this one table. pg_dump reads `.` as the
 * schema separator, `*` and `?` as wildcards, upper case as folded to lower case and `"` as
 * quoting; inside double quotes every character is literal (pg_dump escapes the regular
 * expression characters itself), and `""` is one quote. So both parts are always quoted.
 */
export function pgDumpTablePattern(name: PgTableName): string {
  return pgQualifiedSql(name);
}

/**
 * Splits a comma-separated list of table names (environment variables, the CLI's `--tables`):
 * a comma inside double quotes does not separate; items are trimmed, empty ones dropped.
 */
export function splitTableList(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter(Boolean);
}
