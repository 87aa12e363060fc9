import { Transform, type TransformCallback } from 'node:stream';

const IDENT = String.raw`(?:"(?:[^"]|"")*"|[^\s".(]+)`;
const COPY_LINE = new RegExp(String.raw`^COPY (${IDENT})\.(${IDENT}) (?:\(.*\) )?FROM stdin;$`);

/**
 * Counts the rows of every table in a plain pg_dump stream as it passes (lines between
 * `COPY ... FROM stdin;` under a `-- Data for Name:` header and the closing `\.`): exact counts
 * from the dump's own snapshot, at no cost to the database. Names as `listTables` shows them.
 */
export class PgCopyRowCounter extends Transform {
  readonly rows: Record<string, number> = {};
  private table?: string;
  private line: Buffer[] = [];
  private lineLen = 0;
  private dataHeader = false;

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
    if (line.startsWith('-- Data for Name: ')) {
      this.dataHeader = true;
      return;
    }
    if (line === '' || line.startsWith('--')) return;
    const m = this.dataHeader ? COPY_LINE.exec(line) : null;
    this.dataHeader = false;
    if (!m) return;
    const schema = unquote(m[1]);
    const name = unquote(m[2]);
    this.table = schema === 'public' ? name : `${schema}.${name}`;
    this.rows[this.table] = 0;
  }
}

function unquote(id: string): string {
  return id.startsWith('"') ? id.slice(1, -1).replace(/""/g, '"') : id;
}
