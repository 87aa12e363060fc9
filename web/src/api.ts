/** The service's API, as the dashboard calls it: same origin, session cookie, CSRF token on changes. */
export const API = '/api/v1';

export type Role = 'viewer' | 'operator' | 'admin';
const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** Whether `role` may do what needs `needed` (the API enforces the same). */
export function allows(role: Role | undefined, needed: Role): boolean {
  return !!role && RANK[role] >= RANK[needed];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function csrfToken(): string {
  const m = /(?:^|;\s*)bm_csrf=([^;]*)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]) : '';
}

/** Called when the session has ended (401): the app shows the login again. */
let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken();
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${API}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const b = (json ?? {}) as { code?: string; message?: string | string[] };
    const message = Array.isArray(b.message) ? b.message.join('; ') : (b.message ?? `${res.status} ${res.statusText}`);
    if (res.status === 401 && path !== '/auth/login') onUnauthorized();
    throw new ApiError(res.status, b.code ?? String(res.status), message);
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>('GET', path);

/** A query string from the set fields of `q`. */
export function qs(q: Record<string, string | number | boolean | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export interface Me {
  username: string;
  role: Role;
  authKind: string;
}

export interface Progress {
  rawBytes: number;
  artifactBytes: number;
  estimateBytes: number | null;
  percent: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

export interface Backup {
  id: string;
  target: string;
  engine: string;
  type: string;
  status: string;
  scope?: string;
  format?: string;
  compression?: string;
  sizeBytes: number | null;
  checksum: string | null;
  fileKey: string | null;
  durationMs: number | null;
  pinned: boolean;
  errorMessage: string | null;
  triggeredBy: string;
  description?: string | null;
  createdAt: string;
  completedAt: string | null;
  verifiedAt?: string | null;
  deletedAt?: string | null;
  fileExists?: boolean;
  metadata: Record<string, unknown> | null;
  destinations?: Array<Record<string, unknown>>;
  /** Usable, but some destination lacks its copy (`failedDestinations`). */
  degraded?: boolean;
  failedDestinations?: string[];
  [k: string]: unknown;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number | null;
  pages: number;
  cursor?: string | null;
}

export interface Target {
  name: string;
  engine: string;
  host: string;
  port: number;
  database: string;
  restoreDatabases?: string[];
}

export interface RestoreRun {
  id: string;
  backupId: string;
  target: string;
  database: string;
  status: string;
  safetyBackup: boolean;
  safetyBackupId: string | null;
  durationMs: number | null;
  errorMessage: string | null;
  createdAt: string;
  completedAt: string | null;
}

export interface Schedule {
  id: string;
  name: string;
  target: string;
  type: string;
  cron: string | null;
  preset: string | null;
  expression: string;
  timezone: string;
  enabled: boolean;
  nextRunAt: string | null;
  nextRuns: string[];
  retentionPolicy?: string | null;
  [k: string]: unknown;
}

export const GOOD = new Set(['COMPLETED', 'VERIFIED']);
export const ACTIVE = new Set(['QUEUED', 'RUNNING']);
