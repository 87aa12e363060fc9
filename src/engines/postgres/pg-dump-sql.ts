import type { PgTableName } from '../table-names.js';

/**
 * Reading the SQL of a pg_dump script: its statements as tokens, and which object (table,
 * sequence, index...) a section is about. Used by `PgTableFilter` to pick a section's table.
 */

/** What a section of a pg_dump script is about (`identify`). */
export type Identity =
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
