import { Inject, Injectable } from '@nestjs/common';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { JwtService, type JwtSignOptions } from '@nestjs/jwt';
import { BACKUP_MANAGER_OPTIONS, DEFAULTS, type BackupManagerOptions } from '../config/options.js';
import { Role, type Actor } from './roles.js';

const ALGORITHM = 'HS256';

/** How far ahead of this server's clock a token's `iat` may be (the issuer's clock may run fast). */
export const CLOCK_SKEW_SECONDS = 60;

/** The claims of a verified token, as `jsonwebtoken` returns them. */
interface Claims {
  sub?: unknown;
  sid?: unknown;
  csrf?: unknown;
  role?: unknown;
  name?: unknown;
  iat?: unknown;
  exp?: unknown;
}

/**
 * Checks the library's HS256 tokens with `@nestjs/jwt`; the algorithm is pinned, `exp` is
 * required, the lifetime is capped (`auth.maxTokenLifetimeMs`) and `iat` may not lie in the future.
 */
@Injectable()
export class TokenVerifier {
  constructor(
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    private readonly jwt: JwtService,
  ) {}

  /** The secret as a key object, made once per secret. */
  private key?: { secret: string; key: KeyObject };

  /** @returns the actor, or a reason the token is refused. */
  verify(token: string): Actor | string {
    const v = this.verifyClaims(token);
    return typeof v === 'string' ? v : v.actor;
  }

  /**
   * @returns the actor with the login session a token names (`sid`, its CSRF token, its expiry),
   * or a reason the token is refused. Tokens minted by `backup-manager token` carry no session.
   */
  verifyClaims(token: string): VerifiedToken | string {
    const { jwtSecret, issuer, audience } = this.options.auth;
    let payload: Claims | string;
    try {
      // The secret goes with each call: the JwtModule is shared and holds none.
      payload = this.jwt.verify<Claims & object>(token, { secret: this.keyOf(jwtSecret) as unknown as string, algorithms: [ALGORITHM], issuer, audience });
    } catch (err) {
      return (err as Error).name === 'TokenExpiredError' ? 'token expired' : `invalid token (${(err as Error).message})`;
    }
    if (typeof payload !== 'object' || payload === null) return 'invalid token payload';
    if (typeof payload.exp !== 'number') return 'token has no exp claim';
    const tooLong = lifetimeProblem(payload as Claims & { exp: number }, this.maxLifetimeSeconds());
    if (tooLong) return tooLong;
    if (typeof payload.sub !== 'string' || !payload.sub) return 'token has no sub claim';
    const role = payload.role as Role;
    if (!Object.values(Role).includes(role)) return 'token has no valid role claim (admin, operator or viewer)';
    if (/[\u0000-\u001f]/.test(payload.sub) || (typeof payload.name === 'string' && /[\u0000-\u001f]/.test(payload.name))) {
      return 'token sub or name claim holds a control character';
    }
    const actor = { sub: payload.sub, role, name: typeof payload.name === 'string' ? payload.name : undefined };
    if (payload.sid !== undefined && (typeof payload.sid !== 'string' || typeof payload.csrf !== 'string')) return 'token has an invalid sid or csrf claim';
    return { actor, exp: payload.exp, sid: payload.sid as string | undefined, csrf: payload.csrf as string | undefined };
  }

  /**
   * NOTE: given the secret as a string, `jsonwebtoken` first tries to read it as a public key,
   * which throws, at every request (about a millisecond of CPU); a key object skips that.
   */
  private keyOf(secret: string): KeyObject {
    if (this.key?.secret !== secret) this.key = { secret, key: createSecretKey(Buffer.from(secret)) };
    return this.key.key;
  }

  private maxLifetimeSeconds(): number {
    return Math.floor((this.options.auth.maxTokenLifetimeMs ?? DEFAULTS.auth.maxTokenLifetimeMs) / 1000);
  }
}

/** A verified token: its actor, expiry (epoch seconds) and, for a login's token, its session. */
export interface VerifiedToken {
  actor: Actor;
  exp: number;
  /** The login session (`bm_sessions.id`); logout or expiry there ends the token. */
  sid?: string;
  /** The session's CSRF token, which cookie-authenticated changes must echo in `X-CSRF-Token`. */
  csrf?: string;
}

/** A span of seconds for a message: `90 s`, `2.5 h`. */
function span(seconds: number): string {
  return seconds < 3600 ? `${seconds} s` : `${Math.round((seconds / 3600) * 10) / 10} h`;
}

/** Why a token lives too long or was issued in the future, or undefined. */
function lifetimeProblem(p: Claims & { exp: number }, maxSeconds: number, now = Math.floor(Date.now() / 1000)): string | undefined {
  if (p.iat !== undefined && typeof p.iat !== 'number') return 'token iat claim is not a number';
  if (typeof p.iat === 'number') {
    if (p.iat > now + CLOCK_SKEW_SECONDS) return `token iat is in the future (${span(p.iat - now)} ahead of this server's clock; ${CLOCK_SKEW_SECONDS} s allowed)`;
    if (p.exp - p.iat > maxSeconds) return `token lifetime (exp - iat) is ${span(p.exp - p.iat)}, more than the maximum of ${span(maxSeconds)}`;
  }
  if (p.exp - now > maxSeconds + CLOCK_SKEW_SECONDS) return `token expires in ${span(p.exp - now)}, more than the maximum token lifetime of ${span(maxSeconds)}`;
  return undefined;
}

/**
 * Signs a token for the built-in guard.
 * @throws when `opts.maxLifetimeMs` is given and `expiresIn` exceeds it (the guard would refuse the token).
 */
export function signToken(
  secret: string,
  claims: { sub: string; role: Role; name?: string; sid?: string; csrf?: string },
  opts: { expiresIn: string | number; issuer?: string; audience?: string; maxLifetimeMs?: number },
): string {
  const jwt = new JwtService();
  const token = jwt.sign(
    { role: claims.role, name: claims.name, ...(claims.sid ? { sid: claims.sid, csrf: claims.csrf } : {}) },
    {
      secret,
      algorithm: ALGORITHM,
      subject: claims.sub,
      expiresIn: opts.expiresIn as JwtSignOptions['expiresIn'],
      ...(opts.issuer ? { issuer: opts.issuer } : {}),
      ...(opts.audience ? { audience: opts.audience } : {}),
    },
  );
  if (opts.maxLifetimeMs !== undefined) {
    const { exp, iat } = jwt.decode<{ exp: number; iat: number }>(token);
    const max = Math.floor(opts.maxLifetimeMs / 1000);
    if (exp - iat > max) throw new Error(`a token valid for ${span(exp - iat)} lives longer than the maximum token lifetime of ${span(max)}`);
  }
  return token;
}
