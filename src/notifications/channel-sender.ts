import { Injectable } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import { createTransport } from 'nodemailer';
import { redact } from '../common/redact.js';
import { SECRET_FIELDS, type ChannelDefinition, type ChannelSecrets } from './channel-kinds.js';
import { htmlBody, plainText, subjectOf, type Notice } from './notice.js';
import {
  DELIVERY_HEADER,
  discordPayload,
  EVENT_HEADER,
  genericPayload,
  SIGNATURE_HEADER,
  signature,
  slackPayload,
  teamsPayload,
  telegramPayload,
  TIMESTAMP_HEADER,
} from './payloads.js';

/** What one try to deliver came to. `answer` never holds a channel secret. */
export interface SendResult {
  ok: boolean;
  statusCode?: number;
  answer: string;
  /** Trying again cannot help (the receiver refused the request itself, e.g. 400 or 404). */
  permanent: boolean;
  durationMs: number;
}

const MAX_ANSWER = 500;
const TELEGRAM_API = 'https://api.telegram.org';

/**
 * Sends one message through one channel: SMTP through nodemailer, everything else as an HTTPS
 * POST. Secret files are read at each send (a rotated password takes effect at once). Whatever
 * comes back, the answer is shortened and every secret of the channel is masked in it.
 */
@Injectable()
export class ChannelSender {
  async send(channel: ChannelDefinition, notice: Notice, deliveryId: string, timeoutMs: number): Promise<SendResult> {
    const started = Date.now();
    let secrets: ChannelSecrets = {};
    try {
      secrets = await this.secretsOf(channel);
      const r = channel.kind === 'email' ? await this.email(channel, secrets, notice, deliveryId, timeoutMs) : await this.http(channel, secrets, notice, deliveryId, timeoutMs);
      return { ...r, answer: clean(r.answer, secrets), durationMs: Date.now() - started };
    } catch (err) {
      return { ok: false, answer: clean((err as Error).message, secrets), permanent: false, durationMs: Date.now() - started };
    }
  }

  /** The channel's secrets, files read now. */
  async secretsOf(channel: ChannelDefinition): Promise<ChannelSecrets> {
    const out: ChannelSecrets = { ...channel.secrets };
    for (const f of SECRET_FIELDS) {
      const file = channel.secretFiles?.[f];
      if (!file) continue;
      try {
        out[f] = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        throw new Error(`could not read the ${f} file of channel "${channel.name}" (${(err as NodeJS.ErrnoException).code ?? 'error'}: ${file})`);
      }
    }
    return out;
  }

  private async email(channel: ChannelDefinition, secrets: ChannelSecrets, n: Notice, deliveryId: string, timeoutMs: number): Promise<Omit<SendResult, 'durationMs'>> {
    const s = channel.settings;
    const security = s.security ?? 'starttls';
    const transport = createTransport({
      host: s.host,
      port: s.port ?? (security === 'tls' ? 465 : 587),
      secure: security === 'tls',
      requireTLS: security === 'starttls',
      ignoreTLS: security === 'none',
      auth: s.username ? { user: s.username, pass: secrets.password ?? '' } : undefined,
      tls: s.caCertificate ? { ca: s.caCertificate } : undefined,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    try {
      const info = await transport.sendMail({
        from: s.from,
        to: s.to,
        subject: subjectOf(n),
        text: plainText(n),
        html: htmlBody(n),
        headers: { 'X-Backup-Manager-Event': n.event, 'X-Backup-Manager-Delivery': deliveryId },
      });
      const code = Number(/^\d{3}/.exec(String(info.response))?.[0]) || undefined;
      const rejected = (info.rejected ?? []).map(String);
      if (rejected.length) return { ok: false, statusCode: code, answer: `${info.response}; rejected: ${rejected.join(', ')}`, permanent: !(info.accepted ?? []).length };
      return { ok: true, statusCode: code, answer: String(info.response ?? 'accepted'), permanent: false };
    } catch (err) {
      const e = err as Error & { responseCode?: number; response?: string; code?: string };
      const code = e.responseCode;
      // 5xx replies to the envelope or the message are refusals: trying again gets the same answer.
      // An authentication failure (535) is too, until someone fixes the password.
      const permanent = code !== undefined && code >= 500 && code < 600;
      return { ok: false, statusCode: code, answer: e.response ?? `${e.code ? `${e.code}: ` : ''}${e.message}`, permanent };
    } finally {
      transport.close();
    }
  }

  private async http(channel: ChannelDefinition, secrets: ChannelSecrets, n: Notice, deliveryId: string, timeoutMs: number): Promise<Omit<SendResult, 'durationMs'>> {
    let url: string;
    let payload: Record<string, unknown>;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'backup-manager' };
    switch (channel.kind) {
      case 'webhook':
        url = secrets.url!;
        payload = genericPayload(n, deliveryId);
        break;
      case 'slack':
        url = secrets.url!;
        payload = slackPayload(n);
        break;
      case 'discord':
        url = secrets.url!;
        payload = discordPayload(n);
        break;
      case 'teams':
        url = secrets.url!;
        payload = teamsPayload(n);
        break;
      case 'telegram':
        url = `${(channel.settings.apiUrl ?? TELEGRAM_API).replace(/\/+$/, '')}/bot${secrets.botToken}/sendMessage`;
        payload = telegramPayload(n, String(channel.settings.chatId));
        break;
      default:
        throw new Error(`channel kind ${channel.kind as string} sends no HTTP`);
    }
    if (!url) throw new Error(`channel "${channel.name}" has no URL`);
    const body = JSON.stringify(payload);
    if (channel.kind === 'webhook') {
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers[TIMESTAMP_HEADER] = timestamp;
      headers[EVENT_HEADER] = n.event;
      headers[DELIVERY_HEADER] = deliveryId;
      headers[SIGNATURE_HEADER] = signature(secrets.secret ?? '', timestamp, body);
    }
    const origin = new URL(url).origin;
    let res: Response;
    try {
      // No redirects: the signed body and the token in the URL go to the configured receiver only.
      res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { ok: false, answer: `could not reach ${origin}: ${why}`, permanent: false };
    }
    const text = await readShort(res);
    const answer = `HTTP ${res.status}${text ? `: ${text}` : ''}`;
    if (res.status >= 200 && res.status < 300) return { ok: true, statusCode: res.status, answer, permanent: false };
    // A 4xx says the request is wrong (a deleted webhook, a bad token): no retry, except for
    // time-outs and rate limits, which pass.
    const permanent = (res.status >= 400 && res.status < 500 && ![408, 425, 429].includes(res.status)) || (res.status >= 300 && res.status < 400);
    return { ok: false, statusCode: res.status, answer, permanent };
  }
}

/** The first bytes of a response body as text. */
async function readShort(res: Response): Promise<string> {
  try {
    const text = await res.text();
    return text.replace(/\s+/g, ' ').trim().slice(0, MAX_ANSWER);
  } catch {
    return '';
  }
}

/** An answer fit to store: shortened, secrets (and their URL-encoded forms) masked. */
function clean(answer: string, secrets: ChannelSecrets): string {
  const values = SECRET_FIELDS.map((f) => secrets[f]).filter((v): v is string => !!v && v.length >= 3);
  return redact(answer, values).slice(0, MAX_ANSWER);
}
