import { Transform, type TransformCallback } from 'node:stream';
import { formatPgTable } from '../table-names.js';

const IDENT = String.raw`(?:"(?:[^"]|"")*"|[^\s".(]+)`;
const COPY_LINE = new RegExp(String.raw`^COPY (${IDENT})\.(${IDENT}) (?:\([\s\S]*\) )?FROM stdin;$`);
/** A COPY statement longer than this is not one pg_dump wrote. */
const MAX_COPY_LINE = 1 << 16;

/**
 * Counts the rows of every table in a plain pg_dump stream as it passes (lines between
 * `COPY ... FROM stdin;` under a `-- Data for Name:` header and the closing `\.`): exact counts
 * from the dump's own snapshot, at no cost to the database. Keys are canonical table names
 * (`table-names.ts`), as `listTables` shows them.
 */
export class PgCopyRowCounter extends Transform {
  readonly rows: Record<string, number> = {};
  private table?: string;
  private line: Buffer[] = [];
  private lineLen = 0;
  private dataHeader = false;
  /** The start of a COPY statement cut by a newline inside a quoted name. */
  private copyHead?: string;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(10, pos);
      const end = nl === -1 ? chunk.length : nl;
      if (this.table !== undefined && this.lineLen === 0 && nl !== -1 && !(end - pos <= 3 && chunk[pos] === 92)) {
        // A data row: fast path, no copying.
        this.rows[this.table]++;
        pos = nl + 1;
        continue;
      }
      if (this.lineLen < 1 << 16) {
        const part = chunk.subarray(pos, end);
        this.line.push(part);
        this.lineLen += part.length;
      }
      if (nl === -1) break;
      this.endLine(Buffer.concat(this.line).toString('utf8').replace(/\r$/, ''));
      this.line = [];
      this.lineLen = 0;
      pos = nl + 1;
    }
    cb(null, chunk);
  }

  private endLine(line: string): void {
    if (this.table !== undefined) {
      if (line === '\\.') this.table = undefined;
      else this.rows[this.table]++;
      return;
    }
    if (this.copyHead !== undefined) {
      line = `${this.copyHead}\n${line}`;
      this.copyHead = undefined;
    } else {
      if (line.startsWith('-- Data for Name: ')) {
        this.dataHeader = true;
        return;
      }
      if (line === '' || line.startsWith('--')) return;
      if (!this.dataHeader) return;
      this.dataHeader = false;
    }
    const m = COPY_LINE.exec(line);
    if (!m) {
      // NOTE: a name may hold a newline; pg_dump writes it raw inside the quotes.
      if (line.startsWith('COPY ') && line.length < MAX_COPY_LINE && (line.match(/"/g)?.length ?? 0) % 2 === 1) this.copyHead = line;
      return;
    }
    this.table = formatPgTable({ schema: unquote(m[1]), table: unquote(m[2]) });
    this.rows[this.table] = 0;
  }
}

function unquote(id: string): string {
  return id.startsWith('"') ? id.slice(1, -1).replace(/""/g, '"') : id;
}
