import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHmac, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import jwt from 'jsonwebtoken';
import { MIN_ROLE_EXTENSION } from '../../src/auth/roles.js';
import { startTestApp, waitFor, type TestApp } from '../support/app.js';

/**
 * Attacks on authentication: forged, foreign, expired and mis-addressed JWTs; every route of the
 * OpenAPI document without a token and with a too-low role; oversized bodies; clients that keep
 * failing authentication.
 */
const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'backup-manager-test';
const RANK = { viewer: 1, operator: 2, admin: 3 } as const;
type RoleName = keyof typeof RANK;

/** Routes outside `api/v1` that answer without a token, by design (probes and the API docs). */
const PUBLIC = new Set(['GET /health/live', 'GET /health/ready', 'GET /metrics']);
/** API routes that need no token: the password login (it answers 400/401 itself). */
const PUBLIC_API = new Set(['POST /api/v1/auth/login']);

let t: TestApp;
let secret: string;

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function sign(claims: Record<string, unknown>, opts: { key?: string | Buffer; alg?: jwt.Algorithm } = {}): string {
  return jwt.sign({ sub: 'attacker', role: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now() + 600, ...claims }, opts.key ?? secret, {
    algorithm: opts.alg ?? 'HS256',
    noTimestamp: false,
  });
}

const good = (role: RoleName = 'admin') => sign({ role, sub: `sec-${role}` });

async function call(method: string, path: string, token?: string | null, body?: unknown, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(`${t.url}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

interface Route {
  method: string;
  path: string;
  minRole?: RoleName;
}

const routes: Route[] = [];

beforeAll(async () => {
  t = await startTestApp({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, AUTH_FAILURE_LIMIT: '0', AUTH_FORBIDDEN_LIMIT: '0' });
  secret = t.config.options.auth.jwtSecret;
  const doc = (await (await fetch(`${t.url}/docs-json`)).json()) as { paths: Record<string, Record<string, Record<string, unknown>>> };
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      routes.push({ method: method.toUpperCase(), path, minRole: op[MIN_ROLE_EXTENSION] as RoleName | undefined });
    }
  }
}, 60_000);

afterAll(async () => {
  await t?.close();
});

/** A concrete URL for an OpenAPI path: every parameter becomes a random (unknown) UUID. */
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, () => randomUUID());

describe('routes from the OpenAPI document', () => {
  it('finds the API and marks every mutating route with its least role', () => {
    const api = routes.filter((r) => r.path.startsWith('/api/v1/'));
    expect(api.length).toBeGreaterThanOrEqual(20);
    expect(api.some((r) => r.method === 'DELETE' && r.path === '/api/v1/backups/{id}' && r.minRole === 'admin')).toBe(true);
    const unmarked = api.filter((r) => r.method !== 'GET' && !r.minRole && !PUBLIC_API.has(`${r.method} ${r.path}`)).map((r) => `${r.method} ${r.path}`);
    expect(unmarked).toEqual([]); // a mutating route without @MinRole would be open to viewers
    const nonApi = routes.filter((r) => !r.path.startsWith('/api/v1/')).map((r) => `${r.method} ${r.path}`);
    expect(nonApi.filter((r) => !PUBLIC.has(r))).toEqual([]);
  });

  it('refuses every API route without a token (401) and with a garbage token (401)', async () => {
    const wrong: string[] = [];
    for (const r of routes.filter((x) => x.path.startsWith('/api/v1/') && !PUBLIC_API.has(`${x.method} ${x.path}`))) {
      const url = concrete(r.path);
      const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
      const none = await call(r.method, url, null, body);
      const junk = await call(r.method, url, 'not.a.jwt', body);
      if (none.status !== 401) wrong.push(`${r.method} ${r.path} without token → ${none.status}`);
      if (junk.status !== 401) wrong.push(`${r.method} ${r.path} with junk token → ${junk.status}`);
    }
    expect(wrong).toEqual([]);
  });

  it('refuses every role below a route\'s least role with 403 (viewer on mutating routes, operator on admin routes)', async () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const r of routes.filter((x) => x.path.startsWith('/api/v1/') && !PUBLIC_API.has(`${x.method} ${x.path}`))) {
      const least: RoleName = r.minRole ?? 'viewer';
      const url = concrete(r.path);
      const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
      for (const role of Object.keys(RANK) as RoleName[]) {
        const res = await call(r.method, url, good(role), body);
        if (RANK[role] < RANK[least]) {
          checked++;
          if (res.status !== 403) wrong.push(`${r.method} ${r.path} as ${role} → ${res.status} (needs ${least})`);
          else if (!res.text.includes(least)) wrong.push(`${r.method} ${r.path} as ${role}: 403 does not name the role: ${res.text}`);
        } else if (res.status === 401 || res.status === 403 || res.status >= 500) {
          wrong.push(`${r.method} ${r.path} as ${role} → ${res.status} ${res.text.slice(0, 200)}`);
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(15);
    expect(wrong).toEqual([]);
  }, 60_000);
});

describe('forged and foreign tokens', () => {
  const ROUTE = '/api/v1/backups';

  it('accepts a well-formed token (the control)', async () => {
    expect((await call('GET', ROUTE, good('viewer'))).status).toBe(200);
  });

  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaPublicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();

  const cases: Array<[string, () => string, RegExp]> = [
    ['alg:none, no signature', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'x', role: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now() + 600 })}.`, /invalid/],
    ['alg:None with our signature stripped', () => good().split('.').slice(0, 2).join('.') + '.', /invalid/],
    ['header swapped to alg:none on a valid token', () => [b64({ alg: 'none', typ: 'JWT' }), ...good().split('.').slice(1)].join('.'), /invalid/],
    ['signed with another secret', () => sign({}, { key: randomBytes(32).toString('hex') }), /invalid/],
    ['signed with an empty-ish secret', () => sign({}, { key: 'a' }), /invalid/],
    ['RS256 (asymmetric) with a foreign key', () => sign({}, { key: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), alg: 'RS256' }), /invalid/],
    ['ES256 with a foreign key', () => sign({}, { key: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), alg: 'ES256' }), /invalid/],
    ['HS256 keyed with an RSA public PEM (HS/RS confusion)', () => sign({}, { key: rsaPublicPem }), /invalid/],
    ['HS512 with the right secret (algorithm is pinned)', () => sign({}, { alg: 'HS512' }), /invalid/],
    ['HS384 with the right secret', () => sign({}, { alg: 'HS384' }), /invalid/],
    ['payload tampered after signing (role raised)', () => {
      const [h, , s] = good('viewer').split('.');
      return `${h}.${b64({ sub: 'sec-viewer', role: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now() + 600 })}.${s}`;
    }, /invalid/],
    ['no exp claim', () => jwt.sign({ sub: 'x', role: 'admin', iss: ISSUER, aud: AUDIENCE }, secret, { algorithm: 'HS256' }), /exp/],
    ['expired', () => sign({ exp: now() - 30 }), /expired/],
    ['not valid yet (nbf in the future)', () => sign({ nbf: now() + 3600 }), /invalid/],
    ['wrong issuer', () => sign({ iss: 'https://evil.example' }), /issuer/],
    ['no issuer', () => sign({ iss: undefined }), /issuer/],
    ['wrong audience', () => sign({ aud: 'another-service' }), /audience/],
    ['no audience', () => sign({ aud: undefined }), /audience/],
    ['no subject', () => sign({ sub: undefined }), /sub/],
    ['unknown role', () => sign({ role: 'root' }), /role/],
    ['role as an array', () => sign({ role: ['admin'] }), /role/],
    ['an 8 kB token', () => 'a'.repeat(8_000), /invalid/],
    ['exp in the year 5000', () => sign({ exp: 95_617_584_000 }), /lifetime \(exp - iat\) is .* h, more than the maximum of 24 h/],
    ['a lifetime of 25 h (the maximum is 24 h)', () => sign({ exp: now() + 25 * 3600 }), /more than the maximum of 24 h/],
    ['iat an hour in the future', () => sign({ iat: now() + 3600, exp: now() + 7200 }), /iat is in the future/],
    ['a backdated iat to pass a 30-day lifetime', () => sign({ iat: now() - 30 * 86400, exp: now() + 600 }), /lifetime .* more than the maximum of 24 h/],
    ['no iat and exp in two days', () => jwt.sign({ sub: 'x', role: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now() + 2 * 86400 }, secret, { algorithm: 'HS256', noTimestamp: true }), /expires in 48 h, more than the maximum token lifetime of 24 h/],
    ['iat not a number', () => {
      const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'x', role: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now() + 600, iat: 'yesterday' })}`;
      return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
    }, /iat/],
    ['a NUL in the subject', () => sign({ sub: 'eve\u0000admin' }), /control character/],
  ];

  it.each(cases)('refuses a token: %s → 401 with a reason, no secret in the body', async (_name, make, reason) => {
    const res = await call('GET', ROUTE, make());
    expect(res.status).toBe(401);
    expect(res.text).toMatch(reason);
    expect(res.text).not.toContain(secret);
    // ...and a refused token never reaches a mutating route either
    expect((await call('POST', ROUTE, make(), { target: 'nope' })).status).toBe(401);
  });

  it('accepts an iat slightly ahead of this clock and a lifetime of exactly the maximum', async () => {
    expect((await call('GET', ROUTE, sign({ iat: now() + 30, exp: now() + 600 }))).status).toBe(200);
    expect((await call('GET', ROUTE, sign({ iat: now(), exp: now() + 24 * 3600 }))).status).toBe(200);
    expect((await call('GET', ROUTE, jwt.sign({ sub: 'x', role: 'viewer', iss: ISSUER, aud: AUDIENCE, exp: now() + 3600 }, secret, { algorithm: 'HS256', noTimestamp: true }))).status).toBe(200);
  });

  it('takes its maximum lifetime from JWT_MAX_LIFETIME_HOURS and says it', async () => {
    const short = await startTestApp({ JWT_MAX_LIFETIME_HOURS: '1', AUTH_FAILURE_LIMIT: '0' });
    try {
      const at = (exp: number) => fetch(`${short.url}${ROUTE}`, { headers: { authorization: `Bearer ${jwt.sign({ sub: 's', role: 'viewer', exp }, short.config.options.auth.jwtSecret, { algorithm: 'HS256' })}` } });
      const long = await at(now() + 2 * 3600);
      expect(long.status).toBe(401);
      expect(await long.text()).toMatch(/more than the maximum of 1 h/);
      expect((await at(now() + 50 * 60)).status).toBe(200);
    } finally {
      await short.close();
    }
  });

  it('refuses a header too large for the server with 431', async () => {
    expect((await call('GET', ROUTE, 'a'.repeat(20_000))).status).toBe(431);
    expect((await call('GET', ROUTE, good('viewer'))).status).toBe(200);
  });

  it('refuses other schemes and malformed Authorization headers', async () => {
    for (const header of [`Basic ${Buffer.from('admin:admin').toString('base64')}`, `Token ${good()}`, `Bearer`, `Bearer ${good()} extra`, `${good()}`]) {
      const res = await fetch(`${t.url}${ROUTE}`, { headers: { authorization: header } });
      expect({ header: header.slice(0, 12), status: res.status }).toEqual({ header: header.slice(0, 12), status: 401 });
    }
  });
});

describe('request bodies', () => {
  it('refuses a JSON body over the limit with 413 before any handler runs', async () => {
    const big = { target: 'nope', description: 'x'.repeat(200 * 1024) };
    const res = await call('POST', '/api/v1/backups', good('operator'), big);
    expect(res.status).toBe(413);
    // also without a token: the limit applies before authentication
    expect((await call('POST', '/api/v1/backups', null, big)).status).toBe(413);
  });

  it('refuses a small gzip body that inflates past the limit (decompression bomb) with 413', async () => {
    const bomb = gzipSync(Buffer.from(JSON.stringify({ target: 'nope', description: ' '.repeat(8 * 1024 * 1024) })));
    expect(bomb.length).toBeLessThan(100 * 1024);
    const res = await fetch(`${t.url}/api/v1/backups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${good('operator')}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: bomb,
    });
    expect(res.status).toBe(413);
  });

  it('still takes a body under the limit (validated as usual: 400 for an over-long description)', async () => {
    const res = await call('POST', '/api/v1/backups', good('operator'), { target: 'nope', description: 'x'.repeat(50 * 1024) });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/description/);
  });

  it.each([
    ['arrays', '['.repeat(50_000) + ']'.repeat(50_000)],
    ['objects', '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)],
  ])('refuses deeply nested JSON (%s) with 400, not a crash, and keeps answering', async (_kind, deep) => {
    const res = await fetch(`${t.url}/api/v1/backups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${good('operator')}`, 'content-type': 'application/json' },
      body: deep,
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/nested/);
    expect((await call('GET', '/api/v1/backups', good('viewer'))).status).toBe(200);
    // ordinary nesting still passes the parser (then validation answers)
    const ok = await call('POST', '/api/v1/backups', good('operator'), { target: 'nope', tables: [['x']] });
    expect(ok.status).toBe(400);
    expect(ok.text).toMatch(/tables/);
  });
});

describe('clients that keep failing authentication', () => {
  let limited: TestApp;
  const WINDOW_MS = 2_000;
  const LIMIT = 5;
  const FORBIDDEN_LIMIT = 20;

  beforeAll(async () => {
    limited = await startTestApp({ AUTH_FAILURE_LIMIT: String(LIMIT), AUTH_FAILURE_WINDOW_MS: String(WINDOW_MS) });
  }, 60_000);
  afterAll(async () => {
    await limited?.close();
  });

  const hit = async (token: string | null, headers: Record<string, string> = {}) => {
    const h: Record<string, string> = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    const res = await fetch(`${limited.url}/api/v1/backups`, { headers: h });
    await res.text();
    return res;
  };

  it('403s do not count; after LIMIT 401s the client gets 429 with Retry-After for failing requests until the window passes, while valid tokens pass', async () => {
    for (let i = 0; i < LIMIT * 3; i++) {
      const res = await fetch(`${limited.url}/api/v1/audit`, { headers: { authorization: `Bearer ${limited.token('viewer')}` } });
      expect(res.status).toBe(403);
    }
    expect((await hit(limited.token('viewer'))).status).toBe(200);

    for (let i = 0; i < LIMIT; i++) expect((await hit(i % 2 ? null : 'forged.token.here')).status).toBe(401);
    const blocked = await hit('forged.token.here');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // a valid token is never refused by the limiter (else one failing client behind a shared
    // address would lock everyone out); a spoofed forwarding header changes nothing without TRUST_PROXY
    expect((await hit(limited.token('admin'))).status).toBe(200);
    expect((await hit(limited.token('viewer'), { 'x-forwarded-for': '203.0.113.9' })).status).toBe(200);
    expect((await hit(null, { 'x-forwarded-for': '203.0.113.9' })).status).toBe(429);
    // probes are not behind the guard
    expect((await fetch(`${limited.url}/health/live`)).status).toBe(200);

    await new Promise((r) => setTimeout(r, WINDOW_MS + 300));
    expect((await hit(limited.token('viewer'))).status).toBe(200);
  }, 30_000);

  it('throttles a user who keeps hitting routes above their role (429 after AUTH_FORBIDDEN_LIMIT), and sums the repeats up in the audit trail', async () => {
    const nosy = limited.token('viewer', 'nosy');
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 100 }, () => fetch(`${limited.url}/api/v1/audit`, { headers: { authorization: `Bearer ${nosy}` } }).then(async (r) => (await r.text(), r.status))),
    );
    expect(statuses.filter((s) => s === 403).length).toBeGreaterThanOrEqual(FORBIDDEN_LIMIT);
    // at most one window's worth per window the burst spanned (one more if it straddled a boundary)
    expect(statuses.filter((s) => s === 403).length).toBeLessThanOrEqual(FORBIDDEN_LIMIT * (Math.floor((Date.now() - started) / WINDOW_MS) + 2));
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 403 || s === 429)).toBe(true);
    // what the role allows still works, and another viewer is not throttled
    expect((await hit(nosy)).status).toBe(200);
    expect((await fetch(`${limited.url}/api/v1/audit`, { headers: { authorization: `Bearer ${limited.token('viewer', 'other')}` } })).status).toBe(403);

    // The trail accounts for all 100 in a handful of entries, once the window has closed.
    const rows = await waitFor(async () => {
      const r = await fetch(`${limited.url}/api/v1/audit?actor=nosy&action=auth.forbidden&limit=500`, { headers: { authorization: `Bearer ${limited.token('admin')}` } });
      const items = ((await r.json()) as { items: Array<{ metadata: { repeated?: number } }> }).items;
      // an entry stands for one request, a summary for `repeated` ones
      return items.reduce((n, e) => n + (e.metadata.repeated ?? 1), 0) === 100 ? items : undefined;
    }, 'the audit summary of the repeated denials', 15_000);
    expect(rows.length).toBeLessThanOrEqual(12);
    expect(rows.some((e: any) => e.metadata.repeated > 0 && e.metadata.statuses['429'] > 0 && e.resource === 'GET /api/v1/audit')).toBe(true);
  }, 30_000);

  it('a flood of bad tokens is answered quickly with 429, and the service keeps serving afterwards', async () => {
    const started = Date.now();
    const statuses = await Promise.all(Array.from({ length: 300 }, () => hit('x.y.z').then((r) => r.status)));
    const elapsed = Date.now() - started;
    // A block lasts one window from the LIMIT-th failure, so a flood that outlasts the window
    // (a loaded machine) lets LIMIT more through per window it spans: never more than that.
    const windowsSpanned = Math.floor(elapsed / WINDOW_MS) + 1;
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(LIMIT);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(LIMIT * windowsSpanned);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(Date.now() - started).toBeLessThan(15_000);
    await new Promise((r) => setTimeout(r, WINDOW_MS + 300));
    expect((await hit(limited.token('viewer'))).status).toBe(200);
  }, 30_000);
});

describe('behind a reverse proxy (TRUST_PROXY)', () => {
  let proxied: TestApp;
  const LIMIT = 3;

  beforeAll(async () => {
    // The test connects from 127.0.0.1, standing in for one proxy that appends the client's address.
    proxied = await startTestApp({ TRUST_PROXY: '1', AUTH_FAILURE_LIMIT: String(LIMIT), AUTH_FAILURE_WINDOW_MS: '60000' });
  }, 60_000);
  afterAll(async () => {
    await proxied?.close();
  });

  const via = async (client: string, token: string | null) => {
    const h: Record<string, string> = { 'x-forwarded-for': client };
    if (token) h.authorization = `Bearer ${token}`;
    const res = await fetch(`${proxied.url}/api/v1/backups`, { headers: h });
    await res.text();
    return res.status;
  };

  it('limits the failing client only, by the address the proxy forwarded; others and valid tokens pass', async () => {
    for (let i = 0; i < LIMIT; i++) expect(await via('203.0.113.9', 'forged.token.here')).toBe(401);
    expect(await via('203.0.113.9', 'forged.token.here')).toBe(429);
    expect(await via('198.51.100.7', 'forged.token.here')).toBe(401); // another client behind the same proxy
    expect(await via('198.51.100.7', proxied.token('viewer'))).toBe(200);
    expect(await via('203.0.113.9', proxied.token('viewer'))).toBe(200); // even the failing one, with a valid token
    // the audit trail names the client, not the proxy
    const audit = await fetch(`${proxied.url}/api/v1/audit?action=auth.login_failed&limit=50`, { headers: { authorization: `Bearer ${proxied.token('admin')}` } });
    const ips = ((await audit.json()) as { items: Array<{ clientIp: string }> }).items.map((e) => e.clientIp);
    expect(ips).toEqual(expect.arrayContaining(['203.0.113.9', '198.51.100.7']));
    expect(ips).not.toContain('127.0.0.1');
  });
});
