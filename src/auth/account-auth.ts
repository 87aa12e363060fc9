import type { Actor } from './roles.js';

/** Token of the accounts module's side of authentication, which the guard uses when present. */
export const ACCOUNT_AUTH = Symbol('BACKUP_MANAGER_ACCOUNT_AUTH');

/** What the guard needs of logins and API tokens (implemented by the accounts module). */
export interface AccountAuth {
  isApiToken(bearer: string): boolean;
  checkApiToken(token: string): Promise<{ actor: Actor } | { refused: string }>;
  checkSession(sid: string): Promise<{ actor: Actor; session: { id: string; expiresAt: Date } } | { refused: string }>;
  /** A fresh session token when the current one (expiring at `exp`, epoch seconds) is past half its life. */
  renew(check: { actor: Actor; session: { id: string; expiresAt: Date } }, csrf: string, exp: number): { token: string; expiresAt: Date } | undefined;
}
