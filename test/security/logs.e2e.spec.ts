import { afterAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { signToken } from '../../src/auth/token-verifier.js';
import { Role } from '../../src/auth/roles.js';
import { dropQueueKeys, testEnv, waitFor } from '../support/app.js';
import { freePort, startProcess, waitForHttp, type Proc } from '../support/processes.js';

/**
 * What the service writes to its logs, as a real process: no token, wherever a client puts it
 * (query string, path, Authorization header), and a dev-mode banner that tells the truth.
 */
const started: Array<{ proc: Proc; env: Record<string, string> }> = [];

async function start(extra: Record<string, string>): Promise<{ proc: Proc; env: Record<string, string>; url: string }> {
  const port = await freePort();
  const env = testEnv({ PORT: String(port), LOG_LEVEL: 'info', ...extra });
  const proc = startProcess('main', env);
  started.push({ proc, env });
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitForHttp(`${url}/health/live`),
    proc.exited.then((code) => Promise.reject(new Error(`exited ${code}: ${proc.output()}`))),
  ]);
  return { proc, env, url };
}

afterAll(async () => {
  for (const { proc, env } of started) {
    if (proc.child.exitCode === null) {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
    await dropQueueKeys(env.QUEUE_PREFIX);
    rmSync(env.DATA_DIR, { recursive: true, force: true });
  }
}, 60_000);

describe('access log', () => {
  it('never holds a token sent in the query string, the path or the Authorization header', async () => {
    const { proc, env, url } = await start({});
    const token = (sub: string) => signToken(env.JWT_SECRET, { sub, role: Role.Viewer }, { expiresIn: '1h' });
    const tokens = ['query', 'access', 'path', 'header', 'both', 'odd'].map((s) => token(`log-${s}-${randomBytes(3).toString('hex')}`));
    const [inQuery, inAccess, inPath, inHeader, inBoth, inOdd] = tokens;
    const requests: Array<[string, Record<string, string>]> = [
      [`/api/v1/backups?token=${inQuery}`, {}],
      [`/api/v1/backups?page=1&access_token=${inAccess}&limit=5`, { authorization: `Bearer ${inHeader}` }],
      [`/api/v1/backups/${inPath}`, { authorization: `Bearer ${inHeader}` }],
      [`/api/v1/backups?jwt=${encodeURIComponent(inBoth)}`, { authorization: `bearer ${inBoth}` }],
      [`/api/v1/backups?x=${inOdd}`, { 'x-api-key': 'k3y-' + inOdd.slice(-10) }],
    ];
    for (const [path, headers] of requests) await (await fetch(`${url}${path}`, { headers })).text();
    const secretParts = [...tokens, ...tokens.map((t) => t.split('.')[2]), 'k3y-' + inOdd.slice(-10)];
    // every request has its access-log line before we look
    await waitFor(async () => (proc.output().match(/request completed/g)?.length ?? 0) >= requests.length, 'access-log lines', 10_000);
    const out = proc.output();
    expect(out).toContain('/api/v1/backups?page=1&access_token=***&limit=5');
    expect(secretParts.filter((s) => out.includes(s))).toEqual([]);
  });
});

describe('AUTH_DEV_MODE', () => {
  it('refuses a short JWT_SECRET in dev mode too', async () => {
    const port = await freePort();
    const env = testEnv({ PORT: String(port), AUTH_DEV_MODE: 'true', JWT_SECRET: 'abc' });
    const proc = startProcess('main', env);
    started.push({ proc, env });
    const still = new Promise<string>((r) => setTimeout(() => r('still running'), 30_000).unref());
    expect(await Promise.race([proc.exited, still])).toBe(78);
    expect(proc.output()).toContain('JWT_SECRET must be at least 32 characters');
  });

  it('says a generated secret signs tokens only when one does, and where it is kept', async () => {
    const own = await start({ AUTH_DEV_MODE: 'true', LOG_LEVEL: 'warn' });
    await waitFor(async () => own.proc.output().includes('AUTH_DEV_MODE'), 'the dev-mode notice', 10_000);
    expect(own.proc.output()).not.toMatch(/generated/);
    expect(own.proc.output()).toMatch(/AUTH_DEV_MODE is on, but JWT_SECRET is set: tokens are signed with JWT_SECRET/);
    expect(existsSync(join(own.env.DATA_DIR, '.dev-jwt-secret'))).toBe(false);
    const signed = signToken(own.env.JWT_SECRET, { sub: 'dev', role: Role.Viewer }, { expiresIn: '1h' });
    expect((await fetch(`${own.url}/api/v1/backups`, { headers: { authorization: `Bearer ${signed}` } })).status).toBe(200);

    const gen = await start({ AUTH_DEV_MODE: 'true', LOG_LEVEL: 'warn', JWT_SECRET: '' });
    await waitFor(async () => gen.proc.output().includes('AUTH_DEV_MODE'), 'the dev-mode notice', 10_000);
    const file = join(gen.env.DATA_DIR, '.dev-jwt-secret');
    expect(gen.proc.output()).toContain(`tokens are signed with a development secret generated into ${file}`);
    const devSigned = signToken(readFileSync(file, 'utf8').trim(), { sub: 'dev', role: Role.Viewer }, { expiresIn: '1h' });
    expect((await fetch(`${gen.url}/api/v1/backups`, { headers: { authorization: `Bearer ${devSigned}` } })).status).toBe(200);
  }, 60_000);
});
