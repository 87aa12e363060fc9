import { createHmac } from 'node:crypto';
import { colorOf, escapeHtml, factsOf, subjectOf, type Notice } from './notice.js';

/**
 * The JSON each webhook kind receives. The shapes are documented in the README ("Notifications");
 * a test checks each against a local receiver.
 */

/** Headers of a generic webhook. */
export const SIGNATURE_HEADER = 'x-backup-manager-signature';
export const TIMESTAMP_HEADER = 'x-backup-manager-timestamp';
export const EVENT_HEADER = 'x-backup-manager-event';
export const DELIVERY_HEADER = 'x-backup-manager-delivery';

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the channel's secret>`. */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The generic webhook's body: the notice as data. */
export function genericPayload(n: Notice, deliveryId: string): Record<string, unknown> {
  return {
    version: 1,
    delivery: deliveryId,
    event: n.event,
    state: n.state,
    severity: n.severity,
    title: n.title,
    summary: n.summary,
    target: n.target ?? null,
    occurredAt: n.at,
    error: n.error ?? null,
    next: n.next ?? null,
    record: n.record ?? null,
    facts: Object.fromEntries(n.facts ?? []),
    lines: n.lines ?? [],
  };
}

const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
/** Slack's mrkdwn needs only &, < and > escaped. */
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Slack incoming webhook: `text` (the fallback and notification line) and Block Kit blocks. */
export function slackPayload(n: Notice): Record<string, unknown> {
  const facts = factsOf(n).filter(([k]) => k !== 'Link');
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(subjectOf(n).replace(/^\[backup-manager\] /, ''), 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: cut(slackEscape(n.summary), 3000) } },
    { type: 'section', fields: facts.slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn', text: cut(`*${slackEscape(k)}*\n${slackEscape(v)}`, 2000) })) },
  ];
  if (n.lines?.length) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(n.lines.map((l) => `• ${slackEscape(l)}`).join('\n'), 3000) } });
  if (n.next) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(`*What to do next:* ${slackEscape(n.next)}`, 3000) } });
  if (n.record?.url) blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: `Open ${n.record.type}` }, url: n.record.url }] });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `backup-manager · ${n.event}` }] });
  return { text: cut(slackEscape(subjectOf(n)), 3000), blocks };
}

/** Discord webhook: one embed, mentions disabled. */
export function discordPayload(n: Notice): Record<string, unknown> {
  const facts = factsOf(n).filter(([k]) => k !== 'Link' && k !== 'When');
  return {
    username: 'backup-manager',
    allowed_mentions: { parse: [] },
    embeds: [
      {
        title: cut(subjectOf(n).replace(/^\[backup-manager\] /, ''), 256),
        description: cut([n.summary, ...(n.lines ?? []).map((l) => `• ${l}`), ...(n.next ? ['', `**What to do next:** ${n.next}`] : [])].join('\n'), 4096),
        color: parseInt(colorOf(n).slice(1), 16),
        timestamp: n.at,
        ...(n.record?.url ? { url: n.record.url } : {}),
        fields: facts.slice(0, 25).map(([k, v]) => ({ name: cut(k, 256), value: cut(v, 1024), inline: k !== 'Error' })),
        footer: { text: `backup-manager · ${n.event}` },
      },
    ],
  };
}

/** Microsoft Teams (a Workflows "post to a channel when a webhook request is received" URL): an Adaptive Card. */
export function teamsPayload(n: Notice): Record<string, unknown> {
  const body: unknown[] = [
    { type: 'TextBlock', text: subjectOf(n).replace(/^\[backup-manager\] /, ''), weight: 'Bolder', size: 'Medium', wrap: true, color: n.state === 'resolved' ? 'Good' : n.severity === 'info' ? 'Accent' : 'Attention' },
    { type: 'TextBlock', text: n.summary, wrap: true },
    { type: 'FactSet', facts: factsOf(n).filter(([k]) => k !== 'Link').map(([title, value]) => ({ title, value })) },
  ];
  if (n.lines?.length) body.push({ type: 'TextBlock', text: n.lines.map((l) => `- ${l}`).join('\n'), wrap: true });
  if (n.next) body.push({ type: 'TextBlock', text: `What to do next: ${n.next}`, wrap: true });
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body,
          ...(n.record?.url ? { actions: [{ type: 'Action.OpenUrl', title: `Open ${n.record.type}`, url: n.record.url }] } : {}),
        },
      },
    ],
  };
}

/** Telegram bot API `sendMessage` body (HTML parse mode). */
export function telegramPayload(n: Notice, chatId: string): Record<string, unknown> {
  const facts = factsOf(n).map(([k, v]) => `<b>${escapeHtml(k)}:</b> ${escapeHtml(v)}`);
  const parts = [`<b>${escapeHtml(subjectOf(n).replace(/^\[backup-manager\] /, ''))}</b>`, escapeHtml(n.summary), '', ...facts];
  if (n.lines?.length) parts.push('', ...n.lines.map((l) => `• ${escapeHtml(l)}`));
  if (n.next) parts.push('', `<b>What to do next:</b> ${escapeHtml(n.next)}`);
  return { chat_id: Number.isSafeInteger(Number(chatId)) ? Number(chatId) : chatId, text: cut(parts.join('\n'), 4096), parse_mode: 'HTML', disable_web_page_preview: true };
}
