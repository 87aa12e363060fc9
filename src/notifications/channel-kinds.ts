import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { isNotificationEvent, NOTIFICATION_EVENT_KEYS } from './notification-events.js';

/** How a channel delivers: e-mail over SMTP, a signed generic JSON webhook, or a chat preset. */
export const CHANNEL_KINDS = ['email', 'webhook', 'slack', 'discord', 'teams', 'telegram'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** SMTP transport security: TLS from the first byte (usually port 465), STARTTLS required (587), or none (only on a trusted network). */
export const SMTP_SECURITY = ['tls', 'starttls', 'none'] as const;
export type SmtpSecurity = (typeof SMTP_SECURITY)[number];

/** A channel's settings that may be shown: everything but its secrets. */
export interface ChannelSettings {
  // email
  host?: string;
  port?: number;
  security?: SmtpSecurity;
  username?: string;
  from?: string;
  to?: string[];
  /** PEM of a CA to trust for the SMTP server's certificate (a private CA); public, not a secret. */
  caCertificate?: string;
  // telegram
  chatId?: string;
  /** Base of the Telegram bot API; default https://api.telegram.org. */
  apiUrl?: string;
}

/**
 * Write-only values: never returned, logged, audited, put in job data or in delivery records.
 * `url` of a webhook or chat preset (Slack, Discord and Teams URLs are themselves the credential),
 * `secret` the HMAC key of a generic webhook, `password` of SMTP, `botToken` of Telegram.
 */
export interface ChannelSecrets {
  url?: string;
  secret?: string;
  password?: string;
  botToken?: string;
}

export const SECRET_FIELDS = ['url', 'secret', 'password', 'botToken'] as const;
export type SecretField = (typeof SECRET_FIELDS)[number];

/** Secrets a configured channel (env or options) may give as files, read at each delivery. */
export const SECRET_FILE_FIELDS: Record<SecretField, string> = { url: 'urlFile', secret: 'secretFile', password: 'passwordFile', botToken: 'botTokenFile' };

/** Everything needed to deliver through a channel. */
export interface ChannelDefinition {
  id: string;
  name: string;
  kind: ChannelKind;
  enabled: boolean;
  /** null: the default events. */
  events: string[] | null;
  settings: ChannelSettings;
  secrets: ChannelSecrets;
  /** Secret files of a configured channel, by field. */
  secretFiles?: Partial<Record<SecretField, string>>;
  source: 'api' | 'config';
}

/** What a configured channel looks like in `notifications.channels` (and `NOTIFY_CHANNELS`). */
export interface ChannelConfig extends ChannelSettings, ChannelSecrets {
  name: string;
  kind: ChannelKind;
  enabled?: boolean;
  events?: string[];
  urlFile?: string;
  secretFile?: string;
  passwordFile?: string;
  botTokenFile?: string;
}

/** Which fields each kind needs, and which secrets it takes. */
const REQUIRED: Record<ChannelKind, { settings: Array<keyof ChannelSettings>; secrets: SecretField[] }> = {
  email: { settings: ['host', 'from', 'to'], secrets: [] },
  webhook: { settings: [], secrets: ['url', 'secret'] },
  slack: { settings: [], secrets: ['url'] },
  discord: { settings: [], secrets: ['url'] },
  teams: { settings: [], secrets: ['url'] },
  telegram: { settings: ['chatId'], secrets: ['botToken'] },
};
const ALLOWED_SECRETS: Record<ChannelKind, SecretField[]> = {
  email: ['password'],
  webhook: ['url', 'secret'],
  slack: ['url'],
  discord: ['url'],
  teams: ['url'],
  telegram: ['botToken'],
};
const ALLOWED_SETTINGS: Record<ChannelKind, Array<keyof ChannelSettings>> = {
  email: ['host', 'port', 'security', 'username', 'from', 'to', 'caCertificate'],
  webhook: [],
  slack: [],
  discord: [],
  teams: [],
  telegram: ['chatId', 'apiUrl'],
};

export const CHANNEL_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
/** A pragmatic address check: one @, no spaces or angle brackets, a dotted domain or `localhost`. */
const EMAIL = /^[^\s@<>",;]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|localhost)$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const MIN_WEBHOOK_SECRET_LENGTH = 16;

/** Why `url` cannot be a receiver's address, or undefined. Never repeats the URL (it may hold a token). */
export function urlProblem(field: string, url: unknown): string | undefined {
  if (typeof url !== 'string' || !url) return `${field} must be an http:// or https:// URL`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `${field} is not a valid URL; give an absolute http:// or https:// URL such as https://hooks.example.com/path`;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return `${field} must use http:// or https:// (got ${u.protocol}//)`;
  if (!u.hostname) return `${field} must name a host`;
  if (u.hash) return `${field} must not hold a #fragment`;
  return undefined;
}

export function emailProblem(field: string, address: unknown): string | undefined {
  if (typeof address !== 'string' || !EMAIL.test(address) || address.length > 254) {
    return `${field} must be an e-mail address such as ops@example.com (got ${JSON.stringify(String(address)).slice(0, 80)})`;
  }
  return undefined;
}

/**
 * Every problem of a complete channel (after a create, or a change merged into the stored one),
 * as messages naming the field. The same rules for the API and the configuration.
 */
export function channelProblems(c: { name: unknown; kind: unknown; events?: unknown; settings: ChannelSettings; secrets: ChannelSecrets; secretFiles?: Partial<Record<SecretField, string>> }): string[] {
  const out: string[] = [];
  if (typeof c.name !== 'string' || !CHANNEL_NAME.test(c.name)) out.push('name must be 1 to 64 lower-case letters, digits, "_", "." or "-", starting with a letter or digit');
  if (!CHANNEL_KINDS.includes(c.kind as ChannelKind)) {
    out.push(`kind must be one of: ${CHANNEL_KINDS.join(', ')}`);
    return out;
  }
  const kind = c.kind as ChannelKind;
  if (c.events !== undefined && c.events !== null) {
    if (!Array.isArray(c.events)) out.push('events must be a list of event names');
    else {
      const bad = c.events.filter((e) => !isNotificationEvent(e));
      if (bad.length) out.push(`events must name known events (${NOTIFICATION_EVENT_KEYS.join(', ')}); unknown: ${bad.map((b) => JSON.stringify(b)).join(', ').slice(0, 200)}`);
    }
  }
  const s = c.settings;
  const has = (f: SecretField) => !!c.secrets[f] || !!c.secretFiles?.[f];
  for (const f of REQUIRED[kind].settings) {
    const v = s[f];
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) out.push(`${f} is required for ${kind} channels`);
  }
  for (const f of REQUIRED[kind].secrets) if (!has(f)) out.push(`${f} is required for ${kind} channels`);
  for (const f of Object.keys(s) as Array<keyof ChannelSettings>) {
    if (s[f] !== undefined && s[f] !== null && !ALLOWED_SETTINGS[kind].includes(f)) out.push(`${f} does not apply to ${kind} channels`);
  }
  for (const f of SECRET_FIELDS) if (has(f) && !ALLOWED_SECRETS[kind].includes(f)) out.push(`${f} does not apply to ${kind} channels`);

  if (c.secrets.url) {
    const p = urlProblem('url', c.secrets.url);
    if (p) out.push(p);
  }
  if (kind === 'webhook' && c.secrets.secret !== undefined && c.secrets.secret.length < MIN_WEBHOOK_SECRET_LENGTH) {
    out.push(`secret must be at least ${MIN_WEBHOOK_SECRET_LENGTH} characters (the HMAC-SHA256 key the receiver checks signatures with)`);
  }
  if (kind === 'email') {
    if (s.host !== undefined && (typeof s.host !== 'string' || !(HOSTNAME.test(s.host) || isIP(s.host)))) out.push('host must be a host name or IP address of the SMTP server');
    if (s.port !== undefined && (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535)) out.push('port must be a port number (1 to 65535)');
    if (s.security !== undefined && !SMTP_SECURITY.includes(s.security)) out.push(`security must be one of: ${SMTP_SECURITY.join(', ')}`);
    if (s.from !== undefined) {
      const p = emailProblem('from', s.from);
      if (p) out.push(p);
    }
    if (s.to !== undefined) {
      if (!Array.isArray(s.to) || s.to.length > 50) out.push('to must be a list of 1 to 50 e-mail addresses');
      else for (const [i, a] of s.to.entries()) {
        const p = emailProblem(`to[${i}]`, a);
        if (p) out.push(p);
      }
    }
    if (s.caCertificate !== undefined && !/-----BEGIN CERTIFICATE-----/.test(String(s.caCertificate))) out.push('caCertificate must be a PEM certificate (-----BEGIN CERTIFICATE-----)');
    if (has('password') && !s.username) out.push('username is required when a password is given');
  }
  if (kind === 'telegram') {
    if (s.chatId !== undefined && !/^(-?\d{1,20}|@[A-Za-z0-9_]{5,64})$/.test(String(s.chatId))) out.push('chatId must be a numeric chat id (e.g. -1001234567890) or a @channelname');
    if (s.apiUrl !== undefined) {
      const p = urlProblem('apiUrl', s.apiUrl);
      if (p) out.push(p);
    }
    if (c.secrets.botToken !== undefined && !/^\d{3,20}:[A-Za-z0-9_-]{20,100}$/.test(c.secrets.botToken)) out.push('botToken must be a Telegram bot token (digits, a colon, then the token)');
  }
  return out;
}

/** The events a channel gets. */
export function effectiveEvents(c: { events: string[] | null }, defaults: readonly string[]): string[] {
  return c.events ?? [...defaults];
}

/** A stable id for a configured channel (the same in every process), shaped like a UUID. */
export function configChannelId(name: string): string {
  const h = createHash('sha256').update(`backup-manager:notification-channel:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A receiver URL as it may be shown: its origin only (paths and queries of webhook URLs hold tokens). */
export function urlHint(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return undefined;
  }
}
