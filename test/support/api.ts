import type { TestApp } from './app.js';

/** Minimal HTTP client for tests: JSON in, JSON (or bytes) out, with a bearer token. */
export async function api(t: TestApp, method: string, path: string, opts: { body?: unknown; token?: string | null } = {}) {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? t.token('admin') : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${t.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json, text, headers: res.headers };
}

/** Polls a backup until it leaves QUEUED/RUNNING; returns the record. */
export async function waitForBackup(t: TestApp, id: string, timeoutMs = 90_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await api(t, 'GET', `/api/v1/backups/${id}`);
    if (r.status === 200 && !['QUEUED', 'RUNNING'].includes(r.body.status)) return r.body;
    if (Date.now() > deadline) throw new Error(`backup ${id} still ${r.body?.status} after ${timeoutMs} ms: ${r.text}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/**
 * Polls a backup until it is settled: past QUEUED, RUNNING and COMPLETED, so its verification
 * after the backup has recorded its outcome (VERIFIED or CORRUPTED) or it FAILED. Until then a
 * background job may still read its artifact or write its record: a test that changes either, or
 * asserts a state, waits for this first.
 */
export async function waitForSettled(t: TestApp, id: string, timeoutMs = 90_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await api(t, 'GET', `/api/v1/backups/${id}`);
    if (r.status === 200 && !['QUEUED', 'RUNNING', 'COMPLETED'].includes(r.body.status)) return r.body;
    if (Date.now() > deadline) throw new Error(`backup ${id} still ${r.body?.status} after ${timeoutMs} ms: ${r.text}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

export async function downloadBytes(t: TestApp, id: string): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
  const res = await fetch(`${t.url}/api/v1/backups/${id}/download`, { headers: { authorization: `Bearer ${t.token('viewer')}` } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}
