import { Inject, Injectable } from '@nestjs/common';
import type { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { IsNull, type Repository } from 'typeorm';
import type { AccountAuth } from '../auth/account-auth.js';
import { Role, roleAllows, type Actor } from '../auth/roles.js';
import { signToken } from '../auth/token-verifier.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { APP_EVENTS } from '../common/app-events.js';
import { DomainError, ErrorCode, invalid } from '../common/errors.js';
import { BACKUP_MANAGER_OPTIONS, DEFAULTS, type BackupManagerOptions } from '../config/options.js';
import { ApiToken } from './entities/api-token.entity.js';
import { Session } from './entities/session.entity.js';
import { User } from './entities/user.entity.js';
import { checkPassword, hashPassword, passwordProblem } from './passwords.js';

/** Login names: lower-case letters, digits and `. _ @ -`, starting with a letter or digit. */
export const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
/** API tokens start with this, so the guard tells them from JWTs at a glance. */
export const API_TOKEN_PREFIX = 'bmt_';
/** The longest an account stays locked after wrong passwords, however many. */
const MAX_LOCKOUT_MS = 3600_000;
/** `lastUsedAt` of an API token is written at most this often. */
const TOKEN_TOUCH_MS = 60_000;

/** Domain events of accounts; the audit trail records them (`account.*`). */
export const AccountEvents = {
  Login: 'account.login',
  LoginFailed: 'account.login_failed',
  Locked: 'account.locked',
  Logout: 'account.logout',
  UserCreated: 'account.user.created',
  UserUpdated: 'account.user.updated',
  PasswordReset: 'account.password.reset',
  UserDisabled: 'account.user.disabled',
  UserEnabled: 'account.user.enabled',
  TokenCreated: 'account.token.created',
  TokenRevoked: 'account.token.revoked',
} as const;

/** A user as the API and the CLI show it: never the hash. */
export interface UserView {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  lockedUntil: Date | null;
  lastLoginAt: Date | null;
  createdAt: Date;
}

export function toUserView(u: User): UserView {
  return { id: u.id, username: u.username, role: u.role as Role, disabled: u.disabled, lockedUntil: u.lockedUntil, lastLoginAt: u.lastLoginAt, createdAt: u.createdAt };
}

/** A started login: the signed session token and what the cookies or the caller need. */
export interface LoginResult {
  user: UserView;
  token: string;
  csrf: string;
  sessionId: string;
  /** When this token expires (renewed while the dashboard is used, up to `sessionEndsAt`). */
  expiresAt: Date;
  sessionEndsAt: Date;
}

/** Who a session token stands for now, or why it no longer counts. */
export type SessionCheck = { actor: Actor; session: Session; user: User } | { refused: string };

/**
 * Users, logins and API tokens, kept in the catalog. Passwords are bcrypt-hashed; a login is a
 * session row named by a short-lived JWT; an API token is random and stored only as its SHA-256.
 */
@Injectable()
export class AccountsService implements AccountAuth {
  /** Compared against when the username is unknown, so both answers take as long (made on first use). */
  private dummyHash?: Promise<string>;

  constructor(
    @InjectRepository(User, CATALOG_CONNECTION) private readonly users: Repository<User>,
    @InjectRepository(Session, CATALOG_CONNECTION) private readonly sessions: Repository<Session>,
    @InjectRepository(ApiToken, CATALOG_CONNECTION) private readonly tokens: Repository<ApiToken>,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
  ) {}

  private get auth() {
    const a = this.options.auth;
    return {
      idleMs: a.sessionIdleMs ?? DEFAULTS.auth.sessionIdleMs,
      maxMs: a.sessionMaxMs ?? DEFAULTS.auth.sessionMaxMs,
      maxFailures: a.loginMaxFailures ?? DEFAULTS.auth.loginMaxFailures,
      lockoutMs: a.loginLockoutMs ?? DEFAULTS.auth.loginLockoutMs,
    };
  }

  // ---- users (CLI and admins) ----

  async createUser(username: string, role: Role, password: string, actor?: Actor): Promise<UserView> {
    checkUsername(username);
    checkRoleName(role);
    const problem = passwordProblem(password, username);
    if (problem) throw invalid(problem);
    if (await this.users.existsBy({ username })) throw new DomainError(ErrorCode.UserExists, `A user "${username}" already exists; use \`user reset-password\` to change the password`);
    const user = this.users.create({
      id: randomUUID(),
      username,
      role,
      passwordHash: await hashPassword(password),
      disabled: false,
      failedLogins: 0,
      lockedUntil: null,
      lastLoginAt: null,
      sessionsValidAfter: null,
    });
    try {
      await this.users.insert(user);
    } catch (err) {
      if (await this.users.existsBy({ username })) throw new DomainError(ErrorCode.UserExists, `A user "${username}" already exists`);
      throw err;
    }
    const saved = await this.users.findOneByOrFail({ id: user.id });
    this.emit(AccountEvents.UserCreated, actor, saved);
    return toUserView(saved);
  }

  async listUsers(): Promise<UserView[]> {
    return (await this.users.find({ order: { username: 'ASC' } })).map(toUserView);
  }

  /** Sets a new password, unlocks the account and ends its sessions. */
  async resetPassword(username: string, password: string, actor?: Actor): Promise<UserView> {
    const user = await this.userNamed(username);
    const problem = passwordProblem(password, username);
    if (problem) throw invalid(problem);
    await this.users.update({ id: user.id }, { passwordHash: await hashPassword(password), failedLogins: 0, lockedUntil: null, sessionsValidAfter: new Date() });
    await this.endSessionsOf(user.id);
    const saved = await this.users.findOneByOrFail({ id: user.id });
    this.emit(AccountEvents.PasswordReset, actor, saved);
    return toUserView(saved);
  }

  /** Disables (ends its sessions, its API tokens stop working) or re-enables an account. */
  async setDisabled(username: string, disabled: boolean, actor?: Actor): Promise<UserView> {
    const user = await this.userNamed(username);
    await this.users.update({ id: user.id }, disabled ? { disabled, sessionsValidAfter: new Date() } : { disabled, failedLogins: 0, lockedUntil: null });
    if (disabled) await this.endSessionsOf(user.id);
    const saved = await this.users.findOneByOrFail({ id: user.id });
    this.emit(disabled ? AccountEvents.UserDisabled : AccountEvents.UserEnabled, actor, saved);
    return toUserView(saved);
  }

  async setRole(username: string, role: Role, actor?: Actor): Promise<UserView> {
    checkRoleName(role);
    const user = await this.userNamed(username);
    await this.users.update({ id: user.id }, { role });
    const saved = await this.users.findOneByOrFail({ id: user.id });
    this.emit(AccountEvents.UserUpdated, actor, saved, { role });
    return toUserView(saved);
  }

  private async userNamed(username: string): Promise<User> {
    const user = typeof username === 'string' ? await this.users.findOneBy({ username }) : null;
    if (!user) throw new DomainError(ErrorCode.UserNotFound, `No user "${String(username).slice(0, 64)}"`);
    return user;
  }

  // ---- logins ----

  /**
   * Checks a password and starts a session. Wrong passwords count per account: past
   * `loginMaxFailures` in a row the account is locked, for `loginLockoutMs`, doubling with each
   * further wrong password (at most 1 h); while locked every login is refused, the right password too.
   */
  async login(username: string, password: string, clientIp: string | undefined): Promise<LoginResult> {
    const { maxFailures, lockoutMs, idleMs, maxMs } = this.auth;
    const user = typeof username === 'string' && USERNAME.test(username) ? await this.users.findOneBy({ username }) : null;
    const now = new Date();
    if (user?.lockedUntil && user.lockedUntil > now) {
      const wait = Math.ceil((user.lockedUntil.getTime() - now.getTime()) / 1000);
      this.emit(AccountEvents.LoginFailed, { sub: user.username, role: user.role as Role, name: user.username }, user, { reason: 'account locked', outcome: 'failure' });
      throw new DomainError(ErrorCode.AccountLocked, `Too many wrong passwords for this account; it is locked, retry in ${wait} s (or an admin runs \`backup-manager user reset-password\`)`, { retryAfterSeconds: wait });
    }
    const ok = await checkPassword(typeof password === 'string' ? password : '', user?.passwordHash ?? (await (this.dummyHash ??= hashPassword(randomBytes(16).toString('hex')))));
    if (!user || !ok || user.disabled) {
      const reason = !user ? 'unknown user' : user.disabled ? 'account disabled' : 'wrong password';
      if (user && !ok) await this.countFailure(user, maxFailures, lockoutMs);
      this.emit(AccountEvents.LoginFailed, user ? { sub: user.username, role: user.role as Role, name: user.username } : { sub: 'anonymous', role: undefined as unknown as Role }, user ?? undefined, {
        reason,
        outcome: 'failure',
        ...(user ? {} : { username: String(username).slice(0, 64) }),
      });
      throw new DomainError(ErrorCode.Unauthorized, 'Wrong username or password');
    }
    await this.users.update({ id: user.id }, { failedLogins: 0, lockedUntil: null, lastLoginAt: now });
    const session: Session = { id: randomBytes(16).toString('hex'), userId: user.id, createdAt: now, expiresAt: new Date(now.getTime() + maxMs), endedAt: null, clientIp: clientIp?.slice(0, 64) ?? null };
    await this.sessions.insert(session);
    const csrf = randomBytes(24).toString('base64url');
    const actor: Actor = { sub: user.username, role: user.role as Role, name: user.username };
    const { token, expiresAt } = this.sign(actor, session, csrf, now.getTime() + idleMs);
    this.emit(AccountEvents.Login, actor, user, { method: 'password' });
    return { user: toUserView({ ...user, lastLoginAt: now }), token, csrf, sessionId: session.id, expiresAt, sessionEndsAt: session.expiresAt };
  }

  private async countFailure(user: User, maxFailures: number, lockoutMs: number): Promise<void> {
    await this.users.increment({ id: user.id }, 'failedLogins', 1);
    const { failedLogins } = await this.users.findOneByOrFail({ id: user.id });
    if (maxFailures <= 0 || failedLogins < maxFailures) return;
    const ms = Math.min(MAX_LOCKOUT_MS, lockoutMs * 2 ** Math.min(20, failedLogins - maxFailures));
    const lockedUntil = new Date(Date.now() + ms);
    await this.users.update({ id: user.id }, { lockedUntil });
    this.emit(AccountEvents.Locked, { sub: user.username, role: user.role as Role, name: user.username }, user, { failedLogins, lockedForSeconds: Math.ceil(ms / 1000), outcome: 'failure' });
  }

  /** A session token for `actor`, expiring at `until` or when the session ends, whichever is first. */
  private sign(actor: Actor, session: { id: string; expiresAt: Date }, csrf: string, until: number): { token: string; expiresAt: Date } {
    const { jwtSecret, issuer, audience } = this.options.auth;
    const exp = Math.min(until, session.expiresAt.getTime());
    const seconds = Math.max(1, Math.floor((exp - Date.now()) / 1000));
    const token = signToken(jwtSecret, { ...actor, sid: session.id, csrf }, { expiresIn: seconds, issuer, audience });
    return { token, expiresAt: new Date(Date.now() + seconds * 1000) };
  }

  /** Whether the session a verified token names still counts, and who it stands for now (the user's current role). */
  async checkSession(sid: string): Promise<SessionCheck> {
    const session = await this.sessions.findOneBy({ id: sid });
    if (!session || session.endedAt) return { refused: 'session ended (logged out); log in again' };
    if (session.expiresAt <= new Date()) return { refused: 'session expired; log in again' };
    const user = await this.users.findOneBy({ id: session.userId });
    if (!user || user.disabled) return { refused: 'account disabled' };
    if (user.sessionsValidAfter && session.createdAt < user.sessionsValidAfter) return { refused: 'session ended by a password reset; log in again' };
    return { actor: { sub: user.username, role: user.role as Role, name: user.username }, session, user };
  }

  /** A fresh token for a session in use (the cookie's), when the current one is past half its life. */
  renew(check: { actor: Actor; session: { id: string; expiresAt: Date } }, csrf: string, currentExp: number): { token: string; expiresAt: Date } | undefined {
    const { idleMs } = this.auth;
    const left = currentExp * 1000 - Date.now();
    if (left > idleMs / 2 || check.session.expiresAt.getTime() <= currentExp * 1000) return undefined;
    return this.sign(check.actor, check.session, csrf, Date.now() + idleMs);
  }

  async logout(sid: string, actor: Actor): Promise<void> {
    const r = await this.sessions.update({ id: sid, endedAt: IsNull() }, { endedAt: new Date() });
    if (r.affected) this.emit(AccountEvents.Logout, actor, undefined, {});
  }

  private async endSessionsOf(userId: string): Promise<void> {
    await this.sessions.update({ userId, endedAt: IsNull() }, { endedAt: new Date() });
  }

  // ---- API tokens ----

  /** A new API token for the user behind `actor`; the token itself is returned this once only. */
  async createToken(actor: Actor, name: string, role: Role | undefined, expiresInDays: number | undefined): Promise<{ token: string; view: ApiTokenView }> {
    const user = await this.owner(actor);
    const wanted = role ?? (user.role as Role);
    checkRoleName(wanted);
    if (!roleAllows(user.role as Role, wanted)) throw new DomainError(ErrorCode.Forbidden, `A token may not have more than your own role (${user.role}); asked for ${wanted}`);
    const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const now = new Date();
    const row: ApiToken = {
      id: randomUUID(),
      userId: user.id,
      name,
      tokenHash: sha256(token),
      prefix: token.slice(0, 12),
      role: wanted,
      createdAt: now,
      expiresAt: expiresInDays ? new Date(now.getTime() + expiresInDays * 86_400_000) : null,
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.tokens.insert(row);
    this.emit(AccountEvents.TokenCreated, actor, user, { grant: { id: row.id, name, role: wanted, prefix: row.prefix, expiresAt: row.expiresAt } });
    return { token, view: toTokenView(row, user.username) };
  }

  /** The tokens of `actor` (every user's for an admin with `all`), newest first, revoked ones included. */
  async listTokens(actor: Actor, all: boolean): Promise<ApiTokenView[]> {
    const user = await this.owner(actor);
    const rows = await this.tokens.find({ where: all && actor.role === Role.Admin ? {} : { userId: user.id }, order: { createdAt: 'DESC' }, take: 500 });
    const names = new Map((await this.users.find()).map((u) => [u.id, u.username]));
    return rows.map((r) => toTokenView(r, names.get(r.userId) ?? '?'));
  }

  /** Revokes one of `actor`'s tokens (an admin: anyone's). */
  async revokeToken(actor: Actor, id: string): Promise<ApiTokenView> {
    const user = await this.owner(actor);
    const row = await this.tokens.findOneBy({ id });
    if (!row || (row.userId !== user.id && actor.role !== Role.Admin)) throw new DomainError(ErrorCode.ApiTokenNotFound, `API token ${id} not found`);
    if (!row.revokedAt) {
      row.revokedAt = new Date();
      await this.tokens.update({ id }, { revokedAt: row.revokedAt });
      this.emit(AccountEvents.TokenRevoked, actor, user, { grant: { id, name: row.name, prefix: row.prefix } });
    }
    const owner = row.userId === user.id ? user.username : ((await this.users.findOneBy({ id: row.userId }))?.username ?? '?');
    return toTokenView(row, owner);
  }

  isApiToken(bearer: string): boolean {
    return bearer.startsWith(API_TOKEN_PREFIX);
  }

  /** The account API tokens of `actor` belong to (a minted JWT's subject must name one). */
  private async owner(actor: Actor): Promise<User> {
    const user = await this.users.findOneBy({ username: actor.sub });
    if (!user || user.disabled) throw new DomainError(ErrorCode.UserNotFound, `No account "${actor.sub.slice(0, 64)}": API tokens belong to dashboard accounts (backup-manager user create)`);
    return user;
  }

  /** Who an API token stands for (its role, capped by its owner's current role), or why it is refused. */
  async checkApiToken(token: string): Promise<{ actor: Actor } | { refused: string }> {
    const row = await this.tokens.findOneBy({ tokenHash: sha256(token) });
    // NOTE: the lookup is by hash, but compare too, so a collision-free index is not all that stands.
    if (!row || !timingSafeEqual(Buffer.from(row.tokenHash), Buffer.from(sha256(token)))) return { refused: 'unknown API token' };
    if (row.revokedAt) return { refused: 'API token revoked' };
    if (row.expiresAt && row.expiresAt <= new Date()) return { refused: 'API token expired' };
    const user = await this.users.findOneBy({ id: row.userId });
    if (!user || user.disabled) return { refused: "the API token's account is disabled" };
    const role = roleAllows(user.role as Role, row.role as Role) ? (row.role as Role) : (user.role as Role);
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > TOKEN_TOUCH_MS) void this.tokens.update({ id: row.id }, { lastUsedAt: new Date() }).catch(() => undefined);
    return { actor: { sub: user.username, role, name: user.username } };
  }

  private emit(event: string, actor: Actor | undefined, user: User | undefined, extra: Record<string, unknown> = {}): void {
    const { outcome, ...detail } = extra;
    this.events.emit(event, {
      actor: actor ?? { sub: 'cli', role: Role.Admin, name: 'backup-manager CLI' },
      ...(user ? { user: { id: user.id, username: user.username, role: user.role } } : {}),
      ...(outcome ? { outcome } : {}),
      detail,
    });
  }
}

/** An API token as listed: never the token or its hash. */
export interface ApiTokenView {
  id: string;
  name: string;
  owner: string;
  prefix: string;
  role: Role;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

function toTokenView(r: ApiToken, owner: string): ApiTokenView {
  return { id: r.id, name: r.name, owner, prefix: r.prefix, role: r.role as Role, createdAt: r.createdAt, expiresAt: r.expiresAt, lastUsedAt: r.lastUsedAt, revokedAt: r.revokedAt };
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function checkUsername(username: string): void {
  if (typeof username !== 'string' || !USERNAME.test(username)) {
    throw invalid('the username must be 1 to 64 lower-case letters, digits or . _ @ -, starting with a letter or digit');
  }
}

function checkRoleName(role: string): void {
  if (!(Object.values(Role) as string[]).includes(role)) throw invalid(`the role must be one of ${Object.values(Role).join(', ')}`);
}
