import type { OptionProblem } from '../config/validate-options.js';
import { cronProblem } from '../scheduler/cron.js';
import { channelProblems, SECRET_FIELDS, SECRET_FILE_FIELDS, urlProblem, type ChannelConfig, type ChannelSecrets, type ChannelSettings, type SecretField } from './channel-kinds.js';

/** Alerts by e-mail and webhooks (see the README's "Notifications"). */
export interface NotificationOptions {
  /** Send alerts (default true). False: conditions are still tracked, nothing is queued or sent (a staging copy, a test). */
  enabled: boolean;
  /** Channels from configuration (besides those made through the API); read-only through the API. */
  channels: ChannelConfig[];
  /**
   * Base URL of the API as people reach it (e.g. `https://backups.example.com/api/v1`): messages
   * link to the record (`<publicUrl>/backups/<id>`). None: messages carry the id only.
   */
  publicUrl?: string;
  /** The same condition for the same target alerts at most once per this window (ms). */
  dedupWindowMs: number;
  /** How often stale targets, free space and workers are checked (ms). */
  checkIntervalMs: number;
  /** Alert when jobs wait and no worker has been seen for this long (ms). */
  workerMissingMs: number;
  /** Delivery tries per message (BullMQ attempts); a receiver down for a while still gets it. */
  attempts: number;
  /** First retry delay (ms), doubling at each try. */
  backoffMs: number;
  /** Time limit of one delivery try (ms). */
  timeoutMs: number;
  /** When the daily digest goes out (in `timezone`); empty: never. */
  digestDailyCron: string;
  /** When the weekly digest goes out; empty: never. */
  digestWeeklyCron: string;
}

/** One configured channel's fields split into what may be shown and what may not. */
export function splitChannelConfig(c: ChannelConfig): { settings: ChannelSettings; secrets: ChannelSecrets; secretFiles: Partial<Record<SecretField, string>> } {
  const { host, port, security, username, from, to, caCertificate, chatId, apiUrl } = c;
  const settings = Object.fromEntries(Object.entries({ host, port, security, username, from, to, caCertificate, chatId, apiUrl }).filter(([, v]) => v !== undefined)) as ChannelSettings;
  const secrets: ChannelSecrets = {};
  const secretFiles: Partial<Record<SecretField, string>> = {};
  for (const f of SECRET_FIELDS) {
    if (c[f] !== undefined) secrets[f] = c[f];
    const file = (c as unknown as Record<string, unknown>)[SECRET_FILE_FIELDS[f]];
    if (typeof file === 'string' && file) secretFiles[f] = file;
  }
  return { settings, secrets, secretFiles };
}

const KNOWN_CONFIG_FIELDS = new Set([
  'name',
  'kind',
  'enabled',
  'events',
  'host',
  'port',
  'security',
  'username',
  'from',
  'to',
  'caCertificate',
  'chatId',
  'apiUrl',
  ...SECRET_FIELDS,
  ...Object.values(SECRET_FILE_FIELDS),
]);

/** Problems of the notification options; paths relative to `notifications`. */
export function notificationOptionProblems(n: Partial<NotificationOptions>): OptionProblem[] {
  const out: OptionProblem[] = [];
  if (n.publicUrl !== undefined) {
    const p = urlProblem('publicUrl', n.publicUrl);
    if (p) out.push({ path: 'publicUrl', message: p.replace(/^publicUrl /, '') });
  }
  for (const key of ['digestDailyCron', 'digestWeeklyCron'] as const) {
    const cron = n[key];
    if (cron !== undefined && typeof cron !== 'string') out.push({ path: key, message: 'must be a cron expression or empty' });
    else if (cron) {
      const p = cronProblem(cron);
      if (p) out.push({ path: key, message: `is not a valid cron expression ("${cron.slice(0, 128)}": ${p})` });
    }
  }
  if (n.channels !== undefined && !Array.isArray(n.channels)) out.push({ path: 'channels', message: 'must be a list of channels' });
  const names = new Set<string>();
  for (const [i, c] of (Array.isArray(n.channels) ? n.channels : []).entries()) {
    const at = `channels[${i}]`;
    if (!c || typeof c !== 'object') {
      out.push({ path: at, message: 'must be a channel object ({ name, kind, ... })' });
      continue;
    }
    const unknown = Object.keys(c).filter((k) => !KNOWN_CONFIG_FIELDS.has(k));
    if (unknown.length) out.push({ path: at, message: `has unknown fields: ${unknown.join(', ')}` });
    if (names.has(c.name)) out.push({ path: at, message: `repeats the channel name "${c.name}"` });
    names.add(c.name);
    const { settings, secrets, secretFiles } = splitChannelConfig(c);
    for (const [f, file] of Object.entries(secretFiles)) {
      if (secrets[f as SecretField] !== undefined) out.push({ path: at, message: `gives both ${f} and ${SECRET_FILE_FIELDS[f as SecretField]}; keep one (the file)` });
      else if (typeof file !== 'string') out.push({ path: `${at}.${SECRET_FILE_FIELDS[f as SecretField]}`, message: 'must be a file path' });
    }
    if (c.enabled !== undefined && typeof c.enabled !== 'boolean') out.push({ path: `${at}.enabled`, message: 'must be true or false' });
    for (const m of channelProblems({ name: c.name, kind: c.kind, events: c.events, settings, secrets, secretFiles })) out.push({ path: at, message: m });
  }
  return out;
}
