import { Transform, type TransformCallback } from 'node:stream';
import { mysqlIdent } from './swap-plan.js';

/** Comment lines that open a section of a mariadb-dump/mysqldump script. */
const HEADER = /^-- (Table structure for table|Dumping data for table|Temporary (?:table|view) structure for view|Final view structure for view|Dumping events for database|Dumping routines for database) /;
/** The statements that open a table's structure or data section, with the table's quoted name. */
const TABLE_STATEMENT = /^(?:DROP TABLE IF EXISTS|CREATE TABLE(?: IF NOT EXISTS)?|LOCK TABLES|INSERT(?: IGNORE)? INTO|REPLACE INTO|\/\*!40000 ALTER TABLE) `((?:[^`]|``)+)`/;
const REFERENCE = /REFERENCES `((?:[^`]|``)+)` \(/g;
/** Lines held before a section's first statement (its comment header) longer than this are not a header. */
const HEAD = 4096;

/**
 * Keeps, of a mariadb-dump/mysqldump script, only the sections of the tables in `wanted`
 * (exact names: MariaDB table names are case-sensitive here, and dots, quotes and spaces are
 * ordinary characters): their structure (DROP/CREATE TABLE), their data, and the triggers the
 * dump writes after each table's data. Views, routines and events and every other table are
 * dropped; the preamble (the session settings the dump starts with) is kept.
 *
 * The dump opens each section with a comment (`-- Table structure for table ...`, `-- Dumping
 * data for table ...`); which table it is is read from its first statement, where the name is
 * backquoted exactly. Every row of a data section starts with `(` or `INSERT`, so only comment
 * lines are read in full; everything else streams through or is skipped without being copied.
 *
 * A foreign key of a wanted table to a table outside `wanted` is rewritten to name
 * `referencesInto` (the destination database), so it still points at that table once the
 * restored table has been renamed into the destination.
 */
export class MysqlTableFilter extends Transform {
  /** The wanted tables the script holds (a structure or a data section). */
  readonly tablesSeen = new Set<string>();
  private readonly wanted: Set<string>;
  private preamble = true;
  private decision?: 'keep' | 'drop';
  private structure = false;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private carry?: Buffer;
  /** Inside a line whose start was already passed or skipped. */
  private midLine = false;
  private dash?: Buffer;
  private out: Buffer[] = [];

  constructor(
    wanted: string[],
    private readonly referencesInto?: string,
  ) {
    super();
    this.wanted = new Set(wanted);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.carry) {
      chunk = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(10, pos);
      const end = nl === -1 ? chunk.length : nl + 1;
      if (this.midLine) {
        this.pass(chunk.subarray(pos, end));
        this.midLine = nl === -1;
        pos = end;
        continue;
      }
      // Only a line starting with "-" can be a comment; a statement line in a decided section streams.
      const plain = this.decision && !this.dash && chunk[pos] !== 45 && !(this.structure && this.decision === 'keep');
      if (plain) {
        this.pass(chunk.subarray(pos, end));
        this.midLine = nl === -1;
        pos = end;
        continue;
      }
      if (nl === -1) {
        if (chunk.length - pos > HEAD && this.decision) {
          // A long non-header line: stream it.
          this.pass(chunk.subarray(pos));
          this.midLine = true;
        } else {
          this.carry = chunk.subarray(pos);
        }
        break;
      }
      this.line(chunk.subarray(pos, end));
      pos = end;
    }
    this.flushOut();
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.carry) {
      const last = this.carry;
      this.carry = undefined;
      this.line(last);
    }
    if (this.dash) this.add(this.dash, '--');
    this.dash = undefined;
    if (!this.decision) this.decide(undefined);
    this.flushOut();
    cb();
  }

  private flushOut(): void {
    if (!this.out.length) return;
    this.push(this.out.length === 1 ? this.out[0] : Buffer.concat(this.out));
    this.out = [];
  }

  private pass(bytes: Buffer): void {
    if (this.preamble || this.decision === 'keep') this.out.push(bytes);
  }

  private line(line: Buffer): void {
    const text = line.toString('utf8', 0, Math.min(line.length, HEAD)).replace(/\r?\n$/, '');
    if (text === '--') {
      if (this.dash) this.add(this.dash, '--');
      this.dash = line;
      return;
    }
    const header = HEADER.exec(text);
    if (this.dash && header) {
      if (!this.decision && !this.preamble) this.decide(undefined);
      this.preamble = false;
      this.decision = undefined;
      this.structure = header[1] === 'Table structure for table';
      const table = header[1] === 'Table structure for table' || header[1] === 'Dumping data for table';
      const dash = this.dash;
      this.dash = undefined;
      this.held = [dash, line];
      this.heldBytes = dash.length + line.length;
      if (!table) this.decide(undefined);
      return;
    }
    if (this.dash) this.add(this.dash, '--');
    this.dash = undefined;
    this.add(line, text);
  }

  private add(line: Buffer, text: string): void {
    if (this.preamble) {
      this.out.push(line);
      return;
    }
    if (this.decision) {
      if (this.decision === 'keep') this.out.push(this.structure ? this.qualify(line, text) : line);
      return;
    }
    this.held.push(line);
    this.heldBytes += line.length;
    if (text === '' || text.startsWith('--')) {
      if (this.heldBytes > HEAD) this.decide(undefined);
      return;
    }
    const m = TABLE_STATEMENT.exec(text);
    this.decide(m ? m[1].replace(/``/g, '`') : undefined);
  }

  private decide(table: string | undefined): void {
    const keep = table !== undefined && this.wanted.has(table);
    if (keep) this.tablesSeen.add(table);
    this.decision = keep ? 'keep' : 'drop';
    if (keep) for (const l of this.held) this.out.push(this.structure ? this.qualify(l) : l);
    this.held = [];
    this.heldBytes = 0;
  }

  /** A foreign key line of a kept CREATE TABLE, its reference to an unwanted table qualified with the destination. */
  private qualify(line: Buffer, text?: string): Buffer {
    if (!this.referencesInto) return line;
    text ??= line.toString('utf8', 0, Math.min(line.length, HEAD));
    if (!/^\s+CONSTRAINT .* REFERENCES `/.test(text) || line.length > HEAD) return line;
    const into = mysqlIdent(this.referencesInto);
    const rewritten = line.toString('utf8').replace(REFERENCE, (m, name: string) => (this.wanted.has(name.replace(/``/g, '`')) ? m : `REFERENCES ${into}.\`${name}\` (`));
    return Buffer.from(rewritten);
  }
}
