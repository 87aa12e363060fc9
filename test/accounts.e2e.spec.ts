import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Role } from '../src/auth/roles.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { ROOT } from './support/processes.js';

/** The built CLI with `input` on standard input (not a terminal), the app's environment. */
function cli(args: string[], env: Record<string, string>, input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(input);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The value of a Set-Cookie header's cookie `name`, with its attributes. */
function cookieOf(res: Response, name: string): { value: string; attrs: string } | undefined {
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq).trim() === name) return { value: pair.slice(eq + 1), attrs: attrs.map((a) => a.trim()).join('; ') };
  }
  return undefined;
}

const ADMIN_PW = 'admin-pass-0123456789';
const VIEWER_PW = 'viewer-pass-0123456789';

describe('accounts: users from the CLI, logins, sessions, CSRF, lockout, API tokens', () => {
  let t: TestApp;
  const api = (path: string, init: RequestInit & { json?: unknown } = {}) =>
    fetch(`${t.url}/api/v1${path}`, {
      ...init,
      headers: { ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string>) },
      body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
    });
  const login = (username: string, password: string, extra: Record<string, unknown> = {}) => api('/auth/login', { method: 'POST', json: { username, password, ...extra } });

  beforeAll(async () => {
    t = await startTestApp({ LOGIN_MAX_FAILURES: '3', LOGIN_LOCKOUT_SECONDS: '2' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates users from the CLI with the password on stdin or in a file, never on the command line', async () => {
    const created = await cli(['user', 'create', 'alice', '--role', 'admin', '--json'], t.env, `${ADMIN_PW}\n`);
    expect({ code: created.code, stderr: created.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(created.stdout)).toMatchObject({ username: 'alice', role: 'admin', disabled: false });
    expect(created.stdout).not.toContain(ADMIN_PW);

    const file = join(t.dataDir, 'viewer-password');
    writeFileSync(file, `${VIEWER_PW}\n`, { mode: 0o600 });
    expect((await cli(['user', 'create', 'victor', '--role', 'viewer', '--password-file', file], t.env)).code).toBe(0);

    const short = await cli(['user', 'create', 'bob', '--role', 'operator'], t.env, 'short\n');
    expect({ code: short.code, stderr: short.stderr }).toEqual({ code: 65, stderr: 'backup-manager: the password must have at least 12 characters\n' });
    const onArgv = await cli(['user', 'create', 'bob', '--role', 'operator', '--password', 'x'.repeat(20)], t.env);
    expect(onArgv.code).toBe(64);
    expect(onArgv.stderr).toMatch(/unknown option '--password'/);
    const dup = await cli(['user', 'create', 'alice', '--role', 'viewer'], t.env, `${ADMIN_PW}\n`);
    expect({ code: dup.code, stderr: dup.stderr }).toEqual({ code: 65, stderr: 'backup-manager: A user "alice" already exists; use `user reset-password` to change the password\n' });

    const list = await cli(['user', 'list'], t.env);
    expect(list.stdout).toMatch(/^alice\s+admin\s+active\s+last login never\nvictor\s+viewer\s+active/);
  });

  it('logs in with a session cookie (httpOnly, SameSite=Strict) and refuses changes without the CSRF token', async () => {
    const res = await login('alice', ADMIN_PW);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { user: { username: string; role: string }; csrfToken: string; token?: string };
    expect(body.user).toMatchObject({ username: 'alice', role: 'admin' });
    expect(body.token).toBeUndefined();
    const session = cookieOf(res, 'bm_session')!;
    const csrf = cookieOf(res, 'bm_csrf')!;
    expect(session.attrs).toMatch(/HttpOnly/);
    expect(session.attrs).toMatch(/SameSite=Strict/);
    expect(csrf.attrs).not.toMatch(/HttpOnly/);
    expect(csrf.value).toBe(body.csrfToken);
    const cookie = `bm_session=${session.value}; bm_csrf=${csrf.value}`;

    const me = await api('/auth/me', { headers: { cookie } });
    expect(await me.json()).toEqual({ username: 'alice', name: 'alice', role: 'admin', authKind: 'session' });

    // A change with the cookie alone (what a forged cross-site form would send) is refused.
    const forged = await api('/auth/tokens', { method: 'POST', headers: { cookie }, json: { name: 'x' } });
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ code: 'CSRF_REJECTED' });
    const wrong = await api('/auth/tokens', { method: 'POST', headers: { cookie, 'x-csrf-token': 'A'.repeat(csrf.value.length) }, json: { name: 'x' } });
    expect(wrong.status).toBe(403);
    const foreign = await api('/auth/tokens', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf.value, origin: 'http://evil.example' }, json: { name: 'x' } });
    expect({ status: foreign.status, code: ((await foreign.json()) as { code: string }).code }).toEqual({ status: 403, code: 'CSRF_REJECTED' });
    const ok = await api('/auth/tokens', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf.value, origin: t.url }, json: { name: 'x' } });
    expect(ok.status).toBe(201);

    // Logout ends the session server-side: the old cookie no longer works.
    const out = await api('/auth/logout', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf.value } });
    expect(out.status).toBe(204);
    expect(cookieOf(out, 'bm_session')!.attrs).toMatch(/Max-Age=0/);
    const after = await api('/backups', { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({ message: 'session ended (logged out); log in again' });
  });

  it('gives scripts a bearer session token, which logout ends too', async () => {
    const res = await login('alice', ADMIN_PW, { tokenType: 'bearer' });
    const { token } = (await res.json()) as { token: string };
    expect(res.headers.getSetCookie()).toEqual([]);
    const auth = { authorization: `Bearer ${token}` };
    expect((await api('/backups', { headers: auth })).status).toBe(200);
    // A bearer token is no ambient credential: no CSRF token needed.
    expect((await api('/auth/logout', { method: 'POST', headers: auth })).status).toBe(204);
    expect((await api('/backups', { headers: auth })).status).toBe(401);
  });

  it('keeps the minted JWTs of `backup-manager token` working', async () => {
    const res = await api('/backups', { headers: { authorization: `Bearer ${t.token(Role.Viewer)}` } });
    expect(res.status).toBe(200);
  });

  it('a viewer session sees data but a forged change from it gets 403', async () => {
    const res = await login('victor', VIEWER_PW);
    const cookie = `bm_session=${cookieOf(res, 'bm_session')!.value}`;
    const csrf = cookieOf(res, 'bm_csrf')!.value;
    expect((await api('/backups', { headers: { cookie } })).status).toBe(200);
    const restore = await api('/backups/00000000-0000-4000-8000-000000000000/restore', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf }, json: { confirm: true } });
    expect(restore.status).toBe(403);
    expect(await restore.json()).toMatchObject({ code: 'FORBIDDEN', message: 'This action needs the admin role; your token has viewer' });
  });

  it('locks an account after repeated wrong passwords, refuses even the right one meanwhile, and audits it all', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await login('victor', 'not-the-password!');
      expect({ status: r.status, body: await r.json() }).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED', message: 'Wrong username or password' } });
    }
    const locked = await login('victor', VIEWER_PW);
    expect(locked.status).toBe(429);
    expect(await locked.json()).toMatchObject({ code: 'ACCOUNT_LOCKED' });
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // An unknown user gets the same answer as a wrong password.
    const unknown = await login('nobody', 'whatever-it-is-123');
    expect({ status: unknown.status, body: await unknown.json() }).toMatchObject({ status: 401, body: { message: 'Wrong username or password' } });

    await new Promise((r) => setTimeout(r, 2200));
    expect((await login('victor', VIEWER_PW)).status).toBe(200);

    const admin = { authorization: `Bearer ${t.token(Role.Admin)}` };
    const audit = await waitFor(async () => {
      const page = (await (await api('/audit?action=account.login_failed&limit=50', { headers: admin })).json()) as { items: Array<Record<string, any>> };
      return page.items.length >= 5 ? page.items : undefined;
    }, 'failed logins in the audit trail');
    const victor = audit.filter((e) => e.actorId === 'victor');
    expect(victor.map((e) => e.metadata.detail.reason).sort()).toEqual(['account locked', 'wrong password', 'wrong password', 'wrong password']);
    expect(victor[0]).toMatchObject({ outcome: 'failure', clientIp: expect.stringMatching(/127\.0\.0\.1/) });
    expect(audit.find((e) => e.actorId === 'anonymous')).toMatchObject({ metadata: { detail: { reason: 'unknown user', username: 'nobody' } } });
    const lockedEvents = (await (await api('/audit?action=account.locked', { headers: admin })).json()) as { items: unknown[] };
    expect(lockedEvents.items.length).toBe(1);
    const logins = (await (await api('/audit?action=account.login&actor=alice', { headers: admin })).json()) as { items: Array<Record<string, any>> };
    expect(logins.items.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify([...audit, ...logins.items])).not.toMatch(/pass-0123456789|not-the-password/);
  });

  it('API tokens: shown once, stored as a hash, capped by role, revoked at once, and never manage tokens', async () => {
    const res = await login('alice', ADMIN_PW);
    const csrf = cookieOf(res, 'bm_csrf')!.value;
    const headers = { cookie: `bm_session=${cookieOf(res, 'bm_session')!.value}`, 'x-csrf-token': csrf };
    const created = await api('/auth/tokens', { method: 'POST', headers, json: { name: 'monitoring', role: 'viewer', expiresInDays: 30 } });
    expect(created.status).toBe(201);
    const { token, id } = (await created.json()) as { token: string; id: string };
    expect(token).toMatch(/^bmt_[A-Za-z0-9_-]{43}$/);

    const list = await (await api('/auth/tokens', { headers })).text();
    expect(list).toContain('monitoring');
    expect(list).not.toContain(token);
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(t.dataDir, 'catalog.sqlite'), { readonly: true });
    const stored = JSON.stringify(db.prepare('SELECT * FROM bm_api_tokens').all());
    db.close();
    expect(stored).not.toContain(token);

    const bearer = { authorization: `Bearer ${token}` };
    expect(await (await api('/auth/me', { headers: bearer })).json()).toEqual({ username: 'alice', name: 'alice', role: 'viewer', authKind: 'api-token' });
    expect((await api('/backups', { headers: bearer })).status).toBe(200);
    expect((await api('/cache/history', { headers: bearer })).status).toBe(403);
    const more = await api('/auth/tokens', { method: 'POST', headers: bearer, json: { name: 'child' } });
    expect(more.status).toBe(403);

    expect((await api(`/auth/tokens/${id}`, { method: 'DELETE', headers })).status).toBe(200);
    const revoked = await api('/backups', { headers: bearer });
    expect({ status: revoked.status, body: await revoked.json() }).toMatchObject({ status: 401, body: { message: 'API token revoked' } });
  });

  it('reset-password and disable from the CLI end the sessions of that account', async () => {
    const res = await login('victor', VIEWER_PW);
    const cookie = `bm_session=${cookieOf(res, 'bm_session')!.value}`;
    expect((await api('/backups', { headers: { cookie } })).status).toBe(200);
    const reset = await cli(['user', 'reset-password', 'victor'], t.env, 'a-new-viewer-pass-42\n');
    expect({ code: reset.code, stderr: reset.stderr }).toEqual({ code: 0, stderr: '' });
    expect((await api('/backups', { headers: { cookie } })).status).toBe(401);
    expect((await login('victor', VIEWER_PW)).status).toBe(401);
    expect((await login('victor', 'a-new-viewer-pass-42')).status).toBe(200);

    expect((await cli(['user', 'disable', 'victor'], t.env)).code).toBe(0);
    expect((await login('victor', 'a-new-viewer-pass-42')).status).toBe(401);
    expect((await cli(['user', 'enable', 'victor'], t.env)).code).toBe(0);
    expect((await login('victor', 'a-new-viewer-pass-42')).status).toBe(200);
  });
});
