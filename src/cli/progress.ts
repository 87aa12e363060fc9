import { formatBytes } from '../common/format.js';

export { formatBytes };

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export interface ProgressOptions {
  /** Where progress goes (stderr, so stdout stays clean for --json and pipes). */
  stream: NodeJS.WriteStream;
  /** Estimated total bytes (the database size), for the percentage and ETA. */
  total?: number;
  quiet?: boolean;
  /** Plain lines at most this often when not on a TTY. */
  lineEveryMs?: number;
}

/**
 * Progress of a long operation: a redrawn bar (bytes, rate, ETA) on a TTY, plain lines
 * otherwise. The ETA is an estimate from the database size, which a dump rarely matches exactly.
 */
export class Progress {
  private readonly started = Date.now();
  private bytes = 0;
  private lastLine = 0;
  private drawn = false;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly o: ProgressOptions,
  ) {
    this.tty = !!o.stream.isTTY;
  }

  update(bytes: number, status?: string): void {
    if (this.o.quiet) return;
    this.bytes = Math.max(this.bytes, bytes);
    const now = Date.now();
    if (this.tty) {
      this.o.stream.write(`\r${this.render(status)}\x1b[K`);
      this.drawn = true;
    } else if (now - this.lastLine >= (this.o.lineEveryMs ?? 2000)) {
      this.lastLine = now;
      this.o.stream.write(`${this.render(status)}\n`);
    }
  }

  /** Ends the bar (or prints a last line) with a final message. */
  finish(message: string): void {
    if (this.o.quiet) return;
    if (this.drawn) this.o.stream.write('\r\x1b[K');
    this.o.stream.write(`${message}\n`);
  }

  render(status?: string): string {
    const elapsed = Date.now() - this.started;
    const rate = elapsed > 0 ? (this.bytes / elapsed) * 1000 : 0;
    const parts = [`${this.label}${status ? ` ${status}` : ''}`];
    const total = this.o.total && this.o.total > 0 ? this.o.total : undefined;
    if (total) {
      const frac = Math.min(1, this.bytes / total);
      if (this.tty) {
        const width = 24;
        const full = Math.round(frac * width);
        parts.push(`[${'#'.repeat(full)}${'-'.repeat(width - full)}]`);
      }
      parts.push(`${Math.floor(frac * 100)}%`, `${formatBytes(this.bytes)} / ~${formatBytes(total)}`);
    } else {
      parts.push(formatBytes(this.bytes));
    }
    parts.push(`${formatBytes(rate)}/s`);
    if (total && rate > 0 && this.bytes < total) parts.push(`ETA ${formatDuration(((total - this.bytes) / rate) * 1000)}`);
    parts.push(`elapsed ${formatDuration(elapsed)}`);
    return parts.join('  ');
  }
}
