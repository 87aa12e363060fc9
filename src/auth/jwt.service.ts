import { Inject, Injectable } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { Role, type Actor } from './roles.js';

const ALGORITHM = 'HS256';

/** Issues and checks HS256 tokens; the algorithm is pinned and `exp` is required. */
@Injectable()
export class JwtService {
  constructor(@Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions) {}

  sign(claims: { sub: string; role: Role; name?: string }, expiresIn: string | number = '12h'): string {
    const { jwtSecret, issuer, audience } = this.options.auth;
    return signToken(jwtSecret, claims, { expiresIn, issuer, audience });
  }

  /** @returns the actor, or a reason the token is refused. */
  verify(token: string): Actor | string {
    const { jwtSecret, issuer, audience } = this.options.auth;
    let payload: jwt.JwtPayload | string;
    try {
      payload = jwt.verify(token, jwtSecret, { algorithms: [ALGORITHM], issuer, audience });
    } catch (err) {
      return (err as Error).name === 'TokenExpiredError' ? 'token expired' : `invalid token (${(err as Error).message})`;
    }
    if (typeof payload === 'string') return 'invalid token payload';
    if (typeof payload.exp !== 'number') return 'token has no exp claim';
    if (typeof payload.sub !== 'string' || !payload.sub) return 'token has no sub claim';
    const role = payload.role as Role;
    if (!Object.values(Role).includes(role)) return 'token has no valid role claim (admin, operator or viewer)';
    return { sub: payload.sub, role, name: typeof payload.name === 'string' ? payload.name : undefined };
  }
}

export function signToken(
  secret: string,
  claims: { sub: string; role: Role; name?: string },
  opts: { expiresIn: string | number; issuer?: string; audience?: string },
): string {
  return jwt.sign({ role: claims.role, name: claims.name }, secret, {
    algorithm: ALGORITHM,
    subject: claims.sub,
    expiresIn: opts.expiresIn as jwt.SignOptions['expiresIn'],
    ...(opts.issuer ? { issuer: opts.issuer } : {}),
    ...(opts.audience ? { audience: opts.audience } : {}),
  });
}
