/**
 * A message before it is shaped for a channel: what happened, to which target, when, the error,
 * what to do next, and the record it is about. Holds no secret (error texts are redacted before
 * they get here); stored with each delivery.
 */
export interface Notice {
  /** A notification event (`backup.failed`, ...) or `test`. */
  event: string;
  /** `alert`: a condition started (or is still there after the window); `resolved`: it cleared; `info`: a one-off. */
  state: 'alert' | 'resolved' | 'info' | 'test';
  severity: 'critical' | 'error' | 'warning' | 'info';
  /** One line: the subject of an e-mail, the title of a card. */
  title: string;
  /** What happened, in a sentence or two. */
  summary: string;
  target?: string;
  /** When it happened (ISO 8601). */
  at: string;
  error?: string;
  /** What to do next. */
  next?: string;
  record?: { type: 'backup' | 'restore'; id: string; url?: string };
  /** More label/value pairs (size, attempts, free space...). */
  facts?: Array<[string, string]>;
  /** Lines of a digest, one per target. */
  lines?: string[];
}

const SEVERITY_MARK: Record<Notice['severity'], string> = { critical: 'CRITICAL', error: 'FAILED', warning: 'WARNING', info: 'INFO' };

/** The e-mail subject and chat title. */
export function subjectOf(n: Notice): string {
  const mark = n.state === 'resolved' ? 'RESOLVED' : n.state === 'test' ? 'TEST' : SEVERITY_MARK[n.severity];
  return `[backup-manager] ${mark}: ${n.title}`.slice(0, 255);
}

/** Label/value pairs every rendering shows, in order. */
export function factsOf(n: Notice): Array<[string, string]> {
  const out: Array<[string, string]> = [['Event', `${n.event}${n.state === 'resolved' ? ' (resolved)' : ''}`]];
  if (n.target) out.push(['Target', n.target]);
  out.push(['When', n.at]);
  if (n.error) out.push(['Error', n.error]);
  if (n.record) out.push(['Record', `${n.record.type} ${n.record.id}`]);
  if (n.record?.url) out.push(['Link', n.record.url]);
  for (const f of n.facts ?? []) out.push(f);
  return out;
}

/** The plain-text body (e-mail text part, Telegram). */
export function plainText(n: Notice): string {
  const facts = factsOf(n);
  const width = Math.max(...facts.map(([k]) => k.length)) + 1;
  const parts = [n.summary, '', ...facts.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`)];
  if (n.lines?.length) parts.push('', ...n.lines.map((l) => `- ${l}`));
  if (n.next) parts.push('', `What to do next: ${n.next}`);
  parts.push('', '-- ', 'backup-manager');
  return parts.join('\n');
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const COLOR: Record<Notice['severity'] | 'resolved', string> = { critical: '#b00020', error: '#d32f2f', warning: '#ed6c02', info: '#0277bd', resolved: '#2e7d32' };

export function colorOf(n: Notice): string {
  return n.state === 'resolved' ? COLOR.resolved : COLOR[n.severity];
}

/** The HTML body of the e-mail: the same content as the text part, escaped. */
export function htmlBody(n: Notice): string {
  const rows = factsOf(n)
    .map(([k, v]) => {
      const value = k === 'Link' ? `<a href="${escapeHtml(v)}">${escapeHtml(v)}</a>` : escapeHtml(v);
      return `<tr><th align="left" style="padding:2px 12px 2px 0;vertical-align:top">${escapeHtml(k)}</th><td style="padding:2px 0">${value}</td></tr>`;
    })
    .join('');
  const lines = n.lines?.length ? `<ul>${n.lines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>` : '';
  const next = n.next ? `<p><strong>What to do next:</strong> ${escapeHtml(n.next)}</p>` : '';
  return [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h2 style="color:${colorOf(n)}">${escapeHtml(subjectOf(n).replace(/^\[backup-manager\] /, ''))}</h2>`,
    `<p>${escapeHtml(n.summary)}</p>`,
    `<table>${rows}</table>`,
    lines,
    next,
    '<p style="color:#777">backup-manager</p>',
    '</body></html>',
  ].join('');
}
