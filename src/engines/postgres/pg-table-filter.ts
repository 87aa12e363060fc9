import { Transform, type TransformCallback } from 'node:stream';
import { formatPgTable, type PgTableName } from '../table-names.js';

/**
 * Keeps, of a plain pg_dump script (a plain dump, or the script `pg_restore -f -` writes from a
 * custom archive), only what belongs to the tables in `wanted`: their CREATE TABLE, COPY data,
 * constraints, indexes, triggers, defaults, identity and owned sequences (with their values),
 * policies, rules, statistics, comments and grants. Everything else (other tables, views,
 * functions, schemas, large objects) is dropped, except the script's preamble (its SET lines)
 * and its `\restrict`/`\unrestrict` lines.
 *
 * pg_dump writes one section per object, opened by a comment `-- Name: ...; Type: ...`. Which
 * table a section belongs to is read from its SQL, where pg_dump writes every name
 * schema-qualified and quoted as needed, never from the comment (whose names are not quoted).
 * COPY data is streamed (only its `COPY` line is read); other sections are small and held until
 * they end (up to `HOLD` bytes, then decided on what was read).
 *
 * A foreign key of a wanted table to a table outside `wanted` is kept only if `keepReference`
 * says the destination has that table. `tablesSeen` lists the wanted tables the script created or
 * filled, so that a table the backup lacks is reported instead of silently restored as nothing.
 */
export class PgTableFilter extends Transform {
  /** Canonical names (`table-names.ts`) of the wanted tables the script holds (CREATE TABLE or COPY). */
  readonly tablesSeen = new Set<string>();
  private readonly wanted: Set<string>;
  private readonly seqs = new Set<string>();
  private readonly indexes = new Set<string>();
  private readonly pendingSeqs = new Map<string, Buffer[]>();
  private carry?: Buffer;
  /** A bare `--` line, held until the next line says whether it opens a section. */
  private dash?: Buffer;
  /** Before the first section: the script's preamble, always kept. */
  private preamble = true;
  private decision?: 'keep' | 'drop';
  private held: Buffer[] = [];
  private heldBytes = 0;
  private heldText = '';
  private copy = false;
  private out: Buffer[] = [];
  /** Set while a COPY row that started in an earlier chunk goes on: its rest is not the `\.` line. */
  private rowGoesOn = false;

  constructor(
    wanted: PgTableName[],
    private readonly opts: { keepReference?: (t: PgTableName) => boolean; ownedSequences?: PgTableName[] } = {},
  ) {
    super();
    this.wanted = new Set(wanted.map(formatPgTable));
    for (const s of opts.ownedSequences ?? []) this.seqs.add(formatPgTable(s));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.carry) {
      chunk = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    let pos = 0;
    while (pos < chunk.length) {
      if (this.copy) {
        pos = this.copyData(chunk, pos);
        continue;
      }
      const nl = chunk.indexOf(10, pos);
      if (nl === -1) {
        this.carry = chunk.subarray(pos);
        break;
      }
      this.line(chunk.subarray(pos, nl + 1));
      pos = nl + 1;
    }
    this.flushOut();
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.carry) {
      const last = this.carry;
      this.carry = undefined;
      if (this.copy) this.copyData(last, 0);
      else this.line(last);
    }
    if (this.dash) this.add(this.dash);
    this.dash = undefined;
    this.endSection();
    this.flushOut();
    cb();
  }

  private flushOut(): void {
    if (!this.out.length) return;
    this.push(this.out.length === 1 ? this.out[0] : Buffer.concat(this.out));
    this.out = [];
  }

  /** COPY rows up to and including the `\.` line; returns where it stopped. */
  private copyData(chunk: Buffer, pos: number): number {
    const start = pos;
    const keep = this.decision === 'keep';
    for (;;) {
      const nl = chunk.indexOf(10, pos);
      if (nl === -1) {
        const rest = chunk.length - pos;
        if (!this.rowGoesOn && rest <= 2) {
          // May be the start of the `\.` line: read again with the next chunk.
          if (keep && pos > start) this.out.push(chunk.subarray(start, pos));
          this.carry = chunk.subarray(pos);
        } else {
          if (keep) this.out.push(chunk.subarray(start));
          this.rowGoesOn = true;
        }
        return chunk.length;
      }
      const isEnd = !this.rowGoesOn && nl - pos === 2 && chunk[pos] === 92 && chunk[pos + 1] === 46;
      this.rowGoesOn = false;
      pos = nl + 1;
      if (isEnd) {
        this.copy = false;
        if (keep) this.out.push(chunk.subarray(start, pos));
        return pos;
      }
    }
  }

  private line(line: Buffer): void {
    const text = line.toString('utf8', 0, Math.min(line.length, 512)).replace(/\r?\n$/, '');
    if (text === '--') {
      if (this.dash) this.add(this.dash);
      this.dash = line;
      return;
    }
    if (this.dash && /^-- (?:Data for )?Name: /.test(text) && !(this.held.length && insideQuotes(this.heldText))) {
      this.endSection();
      this.preamble = false;
      this.decision = undefined;
      const dash = this.dash;
      this.dash = undefined;
      this.add(dash);
      this.add(line, text);
      return;
    }
    if (this.dash) this.add(this.dash);
    this.dash = undefined;
    this.add(line, text);
  }

  private add(line: Buffer, text?: string): void {
    text ??= line.toString('utf8', 0, Math.min(line.length, 512)).replace(/\r?\n$/, '');
    if (this.preamble || /^\\(?:un)?restrict /.test(text)) {
      if (!this.preamble) this.endSection();
      this.out.push(line);
      return;
    }
    if (this.decision) {
      if (this.decision === 'keep' || SESSION_SET.test(text)) this.out.push(line);
      if (COPY_START.test(text)) this.copy = true;
      return;
    }
    this.held.push(line);
    this.heldBytes += line.length;
    this.heldText += line.toString('utf8', 0, Math.min(line.length, HOLD));
    if (COPY_START.test(text) || LARGE_OBJECT.test(text)) {
      this.decide(identify(this.heldText));
      if (COPY_START.test(text)) this.copy = true;
    } else if (this.heldBytes > HOLD) {
      this.decide(identify(this.heldText));
    }
  }

  /** Ends the current section: decides it if it is still held. */
  private endSection(): void {
    if (!this.preamble && !this.decision && this.held.length) this.decide(identify(this.heldText));
    this.held = [];
    this.heldBytes = 0;
    this.heldText = '';
  }

  private decide(id: Identity): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.heldText = '';
    let keep = false;
    switch (id.kind) {
      case 'table': {
        const name = formatPgTable(id.table);
        keep = this.wanted.has(name) && id.references.every((r) => this.wanted.has(formatPgTable(r)) || !!this.opts.keepReference?.(r));
        if (keep) {
          if (id.creates) this.tablesSeen.add(name);
          for (const s of id.sequences) this.seqs.add(formatPgTable(s));
          if (id.index) this.indexes.add(formatPgTable(id.index));
        }
        break;
      }
      case 'sequence': {
        // Owned by a table only once its OWNED BY section says so: held until then.
        this.pendingSeqs.set(formatPgTable(id.sequence), held);
        this.decision = 'drop';
        return;
      }
      case 'owned-by': {
        const seq = formatPgTable(id.sequence);
        const pending = this.pendingSeqs.get(seq);
        this.pendingSeqs.delete(seq);
        keep = this.wanted.has(formatPgTable(id.table));
        if (keep) {
          this.seqs.add(seq);
          if (pending) this.out.push(...pending);
        }
        break;
      }
      case 'setval':
        keep = this.seqs.has(formatPgTable(id.sequence));
        break;
      case 'index-comment':
        keep = this.indexes.has(formatPgTable(id.index));
        break;
      default:
        keep = false;
    }
    this.decision = keep ? 'keep' : 'drop';
    for (const l of held) {
      if (keep) this.out.push(l);
      else if (SESSION_SET.test(l.toString('utf8', 0, Math.min(l.length, 200)).replace(/\r?\n$/, ''))) this.out.push(l);
    }
  }
}

/** A section longer than this is decided on its first `HOLD` bytes and then streamed. */
const HOLD = 1 << 20;
const COPY_START = /^COPY .* FROM stdin;$/;
const LARGE_OBJECT = /^(?:SELECT pg_catalog\.lo_|BEGIN;$)/;
/** Settings pg_dump writes between sections for the next table; kept even where a section is dropped. */
const SESSION_SET = /^SET default_(?:tablespace|table_access_method) = [^;]*;$/;

type Identity =
  | { kind: 'table'; table: PgTableName; creates: boolean; references: PgTableName[]; sequences: PgTableName[]; index?: PgTableName }
  | { kind: 'sequence'; sequence: PgTableName }
  | { kind: 'owned-by'; sequence: PgTableName; table: PgTableName }
  | { kind: 'setval'; sequence: PgTableName }
  | { kind: 'index-comment'; index: PgTableName }
  | { kind: 'other' };

interface Token {
  /** `w` word (bare identifier or keyword), `q` quoted identifier, `s` string literal, `p` punctuation. */
  t: 'w' | 'q' | 's' | 'p';
  v: string;
}

/** The tokens of the first statement of `sql` (up to its first `;` outside quotes). */
export function sqlTokens(sql: string, max = 400): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length && out.length < max) {
    const c = sql[i];
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
    } else if (c === '"' || c === "'" || ((c === 'E' || c === 'e') && sql[i + 1] === "'")) {
      const escapes = c !== '"' && c !== "'";
      if (escapes) i++;
      const quote = sql[i++];
      let v = '';
      for (;;) {
        if (i >= sql.length) return out; // unterminated: not a statement this filter reads
        const ch = sql[i];
        if (escapes && ch === '\\') {
          v += sql[i + 1] ?? '';
          i += 2;
          continue;
        }
        if (ch === quote) {
          if (sql[i + 1] === quote) {
            v += quote;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += ch;
        i++;
      }
      out.push({ t: quote === '"' ? 'q' : 's', v });
    } else if (/[A-Za-z0-9_$\u0080-\uffff]/.test(c)) {
      let j = i;
      while (j < sql.length && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[j])) j++;
      out.push({ t: 'w', v: sql.slice(i, j) });
      i = j;
    } else {
      if (c === ';') return out;
      out.push({ t: 'p', v: c });
      i++;
    }
  }
  return out;
}

/** A dot-separated name at `tokens[i]`: its parts and the index after it. */
function nameAt(tokens: Token[], i: number): { parts: string[]; next: number } | undefined {
  const parts: string[] = [];
  for (;;) {
    const tok = tokens[i];
    if (!tok || (tok.t !== 'w' && tok.t !== 'q')) return parts.length ? { parts, next: i } : undefined;
    parts.push(tok.v);
    i++;
    if (tokens[i]?.t === 'p' && tokens[i].v === '.') i++;
    else return { parts, next: i };
  }
}

function asTable(parts: string[] | undefined): PgTableName | undefined {
  if (!parts?.length) return undefined;
  return parts.length === 1 ? { schema: 'public', table: parts[0] } : { schema: parts[parts.length - 2], table: parts[parts.length - 1] };
}

/** The table named after the first bare `word` (`ON`, `TO`, `FROM`, ...) at or after `from`. */
function tableAfter(tokens: Token[], from: number, word: string, last = false): { table: PgTableName; next: number } | undefined {
  let found: { table: PgTableName; next: number } | undefined;
  for (let i = from; i < tokens.length; i++) {
    if (tokens[i].t === 'w' && tokens[i].v.toUpperCase() === word) {
      let j = i + 1;
      if (tokens[j]?.t === 'w' && tokens[j].v.toUpperCase() === 'ONLY') j++;
      const n = nameAt(tokens, j);
      const table = asTable(n?.parts);
      if (n && table) {
        found = { table, next: n.next };
        if (!last) return found;
      }
    }
  }
  return found;
}

/** Which object a section of a pg_dump script is about, from its SQL. */
export function identify(sql: string): Identity {
  const tokens = sqlTokens(sql);
  const words = tokens.slice(0, 4).map((t) => (t.t === 'w' ? t.v.toUpperCase() : ''));
  const at = (i: number) => words[i] ?? '';
  const table = (t: PgTableName | undefined, extra: Partial<Extract<Identity, { kind: 'table' }>> = {}): Identity =>
    t ? { kind: 'table', table: t, creates: false, references: [], sequences: [], ...extra } : { kind: 'other' };
  const other: Identity = { kind: 'other' };
  if (at(0) === 'COPY') return table(asTable(nameAt(tokens, 1)?.parts), { creates: true });
  if (at(0) === 'CREATE') {
    let i = 1;
    while (['UNLOGGED', 'FOREIGN', 'UNIQUE', 'CONSTRAINT'].includes(tokens[i]?.t === 'w' ? tokens[i].v.toUpperCase() : '')) i++;
    const kind = tokens[i]?.t === 'w' ? tokens[i].v.toUpperCase() : '';
    if (kind === 'TABLE') {
      const t = asTable(nameAt(tokens, i + 1)?.parts);
      const rest = tokens.slice(nameAt(tokens, i + 1)?.next ?? tokens.length);
      // A partition needs its parent: it is the parent's section too.
      const parent = rest[0]?.t === 'w' && rest[0].v.toUpperCase() === 'PARTITION' ? tableAfter(rest, 0, 'OF')?.table : undefined;
      return table(t, { creates: true, references: parent ? [parent] : [] });
    }
    if (kind === 'SEQUENCE') {
      const s = asTable(nameAt(tokens, i + 1)?.parts);
      return s ? { kind: 'sequence', sequence: s } : other;
    }
    if (kind === 'INDEX') {
      const n = nameAt(tokens, i + 1);
      const on = n ? tableAfter(tokens, n.next, 'ON') : undefined;
      // An index lives in its table's schema.
      return on && n ? table(on.table, { index: { schema: on.table.schema, table: n.parts[n.parts.length - 1] } }) : other;
    }
    if (kind === 'TRIGGER' || kind === 'POLICY') return table(tableAfter(tokens, i + 2, 'ON')?.table);
    if (kind === 'RULE') return table(tableAfter(tokens, i + 2, 'TO')?.table);
    if (kind === 'STATISTICS') return table(tableAfter(tokens, i + 2, 'FROM', true)?.table);
    return other;
  }
  if (at(0) === 'ALTER' && at(1) === 'TABLE') {
    const i = at(2) === 'ONLY' ? 3 : 2;
    const n = nameAt(tokens, i);
    const t = asTable(n?.parts);
    if (!n || !t) return other;
    const references: PgTableName[] = [];
    const sequences: PgTableName[] = [];
    for (let j = n.next; j < tokens.length; j++) {
      const w = tokens[j].t === 'w' ? tokens[j].v.toUpperCase() : '';
      if (w === 'REFERENCES') {
        const r = asTable(nameAt(tokens, j + 1)?.parts);
        if (r) references.push(r);
      } else if (w === 'SEQUENCE' && tokens[j + 1]?.t === 'w' && tokens[j + 1].v.toUpperCase() === 'NAME') {
        const s = asTable(nameAt(tokens, j + 2)?.parts);
        if (s) sequences.push(s);
      } else if (w === 'ATTACH' && tokens[j + 1]?.t === 'w' && tokens[j + 1].v.toUpperCase() === 'PARTITION') {
        // The parent's section attaching a partition: needs both.
        const child = asTable(nameAt(tokens, j + 2)?.parts);
        if (child) references.push(child);
      }
    }
    return table(t, { references, sequences });
  }
  if (at(0) === 'ALTER' && at(1) === 'SEQUENCE') {
    const n = nameAt(tokens, 2);
    const seq = asTable(n?.parts);
    if (!n || !seq) return other;
    // OWNED BY schema.table.column: the table is the two parts before the column.
    const parts = ownedByParts(tokens, n.next);
    const t = parts && parts.length >= 2 ? { schema: parts.length >= 3 ? parts[parts.length - 3] : 'public', table: parts[parts.length - 2] } : undefined;
    return t ? { kind: 'owned-by', sequence: seq, table: t } : other;
  }
  if (at(0) === 'SELECT' && tokens[1]?.v === 'pg_catalog' && tokens[3]?.v === 'setval') {
    const lit = tokens.find((t) => t.t === 's');
    const s = lit ? asTable(nameAt(sqlTokens(lit.v), 0)?.parts) : undefined;
    return s ? { kind: 'setval', sequence: s } : other;
  }
  if (at(0) === 'COMMENT' && at(1) === 'ON') {
    const what = at(2);
    const i = what === 'FOREIGN' ? 4 : 3;
    if (what === 'TABLE' || what === 'FOREIGN') return table(asTable(nameAt(tokens, i)?.parts));
    if (what === 'COLUMN') {
      const parts = nameAt(tokens, i)?.parts;
      return table(parts && parts.length >= 2 ? asTable(parts.slice(0, -1)) : undefined);
    }
    if (['CONSTRAINT', 'TRIGGER', 'POLICY', 'RULE'].includes(what)) return table(tableAfter(tokens, i + 1, 'ON')?.table);
    if (what === 'INDEX') {
      const idx = asTable(nameAt(tokens, i)?.parts);
      return idx ? { kind: 'index-comment', index: idx } : other;
    }
    return other;
  }
  if (at(0) === 'GRANT' || at(0) === 'REVOKE') {
    for (let j = 1; j < tokens.length; j++) {
      if (tokens[j].t === 'w' && tokens[j].v.toUpperCase() === 'ON') {
        const k = tokens[j + 1]?.t === 'w' && tokens[j + 1].v.toUpperCase() === 'TABLE' ? j + 2 : -1;
        return k > 0 ? table(asTable(nameAt(tokens, k)?.parts)) : other;
      }
    }
  }
  return other;
}

/**
 * Whether `sql` ends inside a quoted string, a quoted identifier or a dollar-quoted body (so a line
 * that looks like a section header is part of a value, not one).
 */
export function insideQuotes(sql: string): boolean {
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      if (nl === -1) return false;
      i = nl + 1;
    } else if (c === "'" || c === '"') {
      const end = closing(sql, i + 1, c);
      if (end === -1) return true;
      i = end + 1;
    } else if (c === '$') {
      const m = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (!m) {
        i++;
        continue;
      }
      const end = sql.indexOf(m[0], i + m[0].length);
      if (end === -1) return true;
      i = end + m[0].length;
    } else {
      i++;
    }
  }
  return false;
}

/** The index of the quote closing a literal opened before `from` (a doubled quote is part of it), or -1. */
function closing(sql: string, from: number, quote: string): number {
  for (let i = from; i < sql.length; i++) {
    if (sql[i] !== quote) continue;
    if (sql[i + 1] === quote) {
      i++;
      continue;
    }
    return i;
  }
  return -1;
}

/** The dotted name after `OWNED BY`. */
function ownedByParts(tokens: Token[], from: number): string[] | undefined {
  for (let j = from; j < tokens.length - 1; j++) {
    if (tokens[j].t === 'w' && tokens[j].v.toUpperCase() === 'OWNED' && tokens[j + 1].t === 'w' && tokens[j + 1].v.toUpperCase() === 'BY') {
      return nameAt(tokens, j + 2)?.parts;
    }
  }
  return undefined;
}
