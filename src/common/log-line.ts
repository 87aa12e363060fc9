/**
 * One log message with its details on the same line: `backup started (id=…, target=app, attempt=1)`.
 * The library logs through Nest's `Logger`, so a host's logger receives a plain string with the
 * class's context, whatever logger it uses (an object would print as a multi-line dump there).
 */
export function logLine(msg: string, fields: Record<string, unknown>): string {
  const parts = Object.entries(fields)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k}=${detail(v)}`);
  return parts.length ? `${msg} (${parts.join(', ')})` : msg;
}

function detail(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'string') return /^[\w.:/@-]*$/.test(v) ? v : JSON.stringify(v);
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}
