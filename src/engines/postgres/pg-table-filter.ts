import { Transform, type TransformCallback } from 'node:stream';
import { formatPgTable, type PgTableName } from '../table-names.js';
import { identify, insideQuotes, type Identity } from './pg-dump-sql.js';

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
