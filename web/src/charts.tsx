/** A small SVG trend line (no chart library): values oldest to newest, with a labelled summary. */
export function Trend({ values, label, format }: { values: number[]; label: string; format: (n: number) => string }) {
  const w = 160;
  const h = 36;
  if (values.length < 2) return <span className="muted">not enough data</span>;
  const max = Math.max(...values);
  const min = Math.min(...values);
  const span = max - min || 1;
  const points = values.map((v, i) => `${((i / (values.length - 1)) * (w - 4) + 2).toFixed(1)},${(h - 2 - ((v - min) / span) * (h - 4)).toFixed(1)}`).join(' ');
  const last = values[values.length - 1];
  return (
    <figure className="trend">
      <svg width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`${label}: ${values.length} backups, last ${format(last)}, range ${format(min)} to ${format(max)}`}>
        <polyline points={points} fill="none" stroke="currentColor" strokeWidth="2" strokeLinejoin="round" />
      </svg>
      <figcaption>
        {label}: {format(last)}
      </figcaption>
    </figure>
  );
}

/** Success share as a bar. */
export function RateBar({ ok, total }: { ok: number; total: number }) {
  const pct = total ? Math.round((ok / total) * 100) : 0;
  return (
    <div className="rate">
      <svg width="100" height="10" viewBox="0 0 100 10" role="img" aria-label={`${pct}% of ${total} finished backups succeeded`}>
        <rect width="100" height="10" rx="3" className="rate-bg" />
        <rect width={pct} height="10" rx="3" className={pct >= 90 ? 'rate-ok' : pct >= 60 ? 'rate-warn' : 'rate-bad'} />
      </svg>
      <span>{total ? `${pct}% of ${total}` : 'no backups yet'}</span>
    </div>
  );
}
