import { Transform, type TransformCallback } from 'node:stream';

/**
 * The commit gate of psql restores. psql runs without `--single-transaction`: the stream itself
 * opens the transaction (`GATE_OPEN`, first after psql's restricted mode) and arms a check that
 * fails any COMMIT but ours: a deferred foreign key between two temporary tables, satisfied only
 * by the row `GATE_COMMIT` inserts right before its COMMIT. The restore client writes
 * `GATE_COMMIT` only once every byte has passed every check; an end of input without it (the
 * worker died and psql read EOF) leaves the transaction open, and PostgreSQL rolls it back when
 * psql disconnects. A COMMIT inside the dump fails on the check and rolls everything back.
 *
 * NOTE: foreign keys are not checked under `session_replication_role = replica`; neither pg_dump
 * nor pg_restore writes that setting.
 */
export const GATE_OPEN = [
  'BEGIN;',
  'CREATE TABLE pg_temp.bm_restore_commit_key (k int PRIMARY KEY);',
  'CREATE TABLE pg_temp.bm_restore_commit_gate (k int REFERENCES pg_temp.bm_restore_commit_key DEFERRABLE INITIALLY DEFERRED);',
  'INSERT INTO pg_temp.bm_restore_commit_gate VALUES (1);',
  '',
].join('\n');

/** Satisfies the gate and commits; the only COMMIT that can succeed. */
export const GATE_COMMIT = '\nINSERT INTO pg_temp.bm_restore_commit_key VALUES (1);\nCOMMIT;\n';

/** What PostgreSQL says when a COMMIT other than ours reaches the gate. */
export const GATE_TRIPPED = /bm_restore_commit_gate/;

type Mode = 'top' | 'copy' | 'lo';

/** A line longer than this cannot be one the filter acts on; it is passed on as it comes. */
const HOLD: Record<Mode, number> = { top: 1 << 20, copy: 8, lo: 1 << 20 };
const HEAD = 512;
const LO_LINE = /^SELECT pg_catalog\.(lo_open|lowrite|lo_close)\(/;
const BLOBS_HEADER = /^-- Data for Name: .*; Type: BLOBS; Schema: /;
const COPY_START = /^COPY .* FROM stdin;$/;

/**
 * Drops the `BEGIN;` / `COMMIT;` pair that pg_dump and pg_restore write around the large-object
 * section of a plain script (`-- Data for Name: BLOBS; Type: BLOBS`, then only `lo_open`,
 * `lowrite` and `lo_close` calls), so that section runs inside the restore's own transaction.
 * Lines of COPY data are never touched. Anything else in that section fails the stream, so a
 * misread can only stop a restore, never change what it loads.
 */
export class DumpTransactionFilter extends Transform {
  private mode: Mode = 'top';
  private afterBlobsHeader = false;
  /** The current line's bytes so far, while it is short enough to be held. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Set once a long line was passed on: only its first bytes are kept, to classify it. */
  private longHead?: Buffer;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      cb(null, this.scan(chunk, false));
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      cb(null, this.scan(Buffer.alloc(0), true));
    } catch (err) {
      cb(err as Error);
    }
  }

  private scan(chunk: Buffer, final: boolean): Buffer {
    const out: Buffer[] = [];
    let pos = 0;
    if (this.heldBytes || this.longHead) {
      const nl = chunk.indexOf(10);
      if (nl === -1 && !final) {
        this.hold(chunk, out);
        return Buffer.concat(out);
      }
      const end = nl === -1 ? chunk.length : nl + 1;
      const piece = chunk.subarray(0, end);
      if (this.longHead) {
        this.classify(this.longHead, true);
        out.push(piece);
      } else {
        const line = Buffer.concat([...this.held, piece]);
        if (this.classify(line, false)) out.push(line);
      }
      this.held = [];
      this.heldBytes = 0;
      this.longHead = undefined;
      pos = end;
    }
    let run = pos;
    for (;;) {
      if (this.mode === 'copy' && !isCopyEndAt(chunk, pos)) {
        // Inside COPY data only the `\.` line matters: jump to the next line that starts with it.
        const next = chunk.indexOf(COPY_END_LINE, pos);
        if (next === -1) {
          const last = chunk.lastIndexOf(10);
          if (last >= pos) pos = last + 1;
          break;
        }
        pos = next + 1;
      }
      const nl = chunk.indexOf(10, pos);
      if (nl === -1) break;
      if (!this.classify(chunk.subarray(pos, nl + 1), false)) {
        out.push(chunk.subarray(run, pos));
        run = nl + 1;
      }
      pos = nl + 1;
    }
    out.push(chunk.subarray(run, pos));
    if (pos < chunk.length) {
      if (final) {
        if (this.classify(chunk.subarray(pos), false)) out.push(chunk.subarray(pos));
      } else {
        this.hold(chunk.subarray(pos), out);
      }
    }
    if (final && this.mode === 'lo') throw new Error('the dump ends inside its large-object section (no COMMIT after it)');
    return Buffer.concat(out);
  }

  /** Keeps a partial line back, or passes it on once it is too long to matter. */
  private hold(bytes: Buffer, out: Buffer[]): void {
    if (this.longHead) {
      out.push(bytes);
      return;
    }
    this.held.push(bytes);
    this.heldBytes += bytes.length;
    if (this.heldBytes > HOLD[this.mode]) {
      const all = Buffer.concat(this.held);
      this.longHead = Buffer.from(all.subarray(0, HEAD));
      out.push(all);
      this.held = [];
      this.heldBytes = 0;
    }
  }

  /** Updates the state for one line (with its newline); false drops the line. */
  private classify(raw: Buffer, truncated: boolean): boolean {
    if (this.mode === 'copy') {
      if (!truncated && isCopyEnd(raw)) this.mode = 'top';
      return true;
    }
    const line = raw.toString('utf8').replace(/\r?\n$/, '');
    if (this.mode === 'lo') {
      if (!truncated && line === 'COMMIT;') {
        this.mode = 'top';
        return false;
      }
      if (line === '' || LO_LINE.test(line)) return true;
      throw new Error(`unexpected line in the large-object section of the dump: ${JSON.stringify(line.slice(0, 80))}`);
    }
    if (!truncated && COPY_START.test(line)) {
      this.mode = 'copy';
      this.afterBlobsHeader = false;
    } else if (!truncated && line === 'BEGIN;' && this.afterBlobsHeader) {
      this.mode = 'lo';
      this.afterBlobsHeader = false;
      return false;
    } else if (BLOBS_HEADER.test(line)) {
      this.afterBlobsHeader = true;
    } else if (line !== '' && !line.startsWith('--')) {
      this.afterBlobsHeader = false;
    }
    return true;
  }
}

const COPY_END_LINE = Buffer.from('\n\\.');

/** Whether the line at `pos` may be the `\.` line (or is too short to tell yet). */
function isCopyEndAt(chunk: Buffer, pos: number): boolean {
  return pos >= chunk.length || (chunk[pos] === 0x5c && (pos + 1 >= chunk.length || chunk[pos + 1] === 0x2e));
}

/** The `\.` line that ends a COPY block. */
function isCopyEnd(raw: Buffer): boolean {
  const n = raw.length - (raw[raw.length - 1] === 10 ? 1 : 0) - (raw[raw.length - 2] === 13 ? 1 : 0);
  return n === 2 && raw[0] === 0x5c && raw[1] === 0x2e;
}
