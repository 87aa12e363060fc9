import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LoggerService } from '@nestjs/common';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { CATALOG_DATA_SOURCE } from '../src/catalog/catalog.module.js';
import { api, waitForBackup } from './support/api.js';
import { REDIS_URL, startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { ROOT } from './support/processes.js';
import { HttpReceiver, SmtpReceiver, type Received } from './support/receivers.js';

/** Every line the library logs (Nest's Logger), at every level. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  private add(level: string, message: unknown, params: unknown[]) {
    this.lines.push(`${level} ${typeof message === 'string' ? message : JSON.stringify(message)} ${JSON.stringify(params)}`);
  }
  log(m: unknown, ...p: unknown[]) {
    this.add('log', m, p);
  }
  error(m: unknown, ...p: unknown[]) {
    this.add('error', m, p);
  }
  warn(m: unknown, ...p: unknown[]) {
    this.add('warn', m, p);
  }
  debug(m: unknown, ...p: unknown[]) {
    this.add('debug', m, p);
  }
  verbose(m: unknown, ...p: unknown[]) {
    this.add('verbose', m, p);
  }
}

/**
 * What a receiver does with a generic webhook: the README's own `verify` (its ```js block in
 * "Notifications", run as written, its import given as parameters).
 */
const readmeVerify = (() => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /\n```js\n(import \{ createHmac, timingSafeEqual \} from 'node:crypto';\n[\s\S]*?)```/.exec(readme.slice(readme.indexOf('\n## Notifications')))?.[1];
  if (!block) throw new Error("README.md's Notifications section has no ```js block with verify()");
  const body = block.replace(/^import .*\n/, '');
  return new Function('createHmac', 'timingSafeEqual', `${body}\nreturn verify;`)(createHmac, timingSafeEqual) as (secret: string, raw: string, headers: Record<string, unknown>) => boolean;
})();
const verifySignature = (key: string, r: Pick<Received, 'headers' | 'raw'>) => readmeVerify(key, r.raw, r.headers);

const SMTP_PASSWORD = `smtp-${randomBytes(9).toString('hex')}`;
const HMAC_KEY = `hmac-${randomBytes(12).toString('hex')}`;
const HOOK_TOKEN = `tok${randomBytes(10).toString('hex')}`;
const SLACK_TOKEN = `slk${randomBytes(10).toString('hex')}`;
const BOT_TOKEN = `123456789:${randomBytes(18).toString('base64url')}`;
const CHECK_INTERVAL_MS = 1000;

describe('notifications: e-mail and webhooks (issue 18)', () => {
  let t: TestApp;
  let smtp: SmtpReceiver;
  let http: HttpReceiver;
  let appDb: string;
  let oldDb: string;
  let secretsDir: string;
  const logger = new CapturingLogger();

  const mailsAbout = (needle: string) => smtp.mails.filter((m) => (m.subject ?? '').includes(needle));

  beforeAll(async () => {
    smtp = await new SmtpReceiver('bm-mailer', SMTP_PASSWORD).start();
    http = await new HttpReceiver().start();
    secretsDir = mkdtempSync(join(tmpdir(), 'bm-notify-secrets-'));
    const passwordFile = join(secretsDir, 'smtp-password');
    writeFileSync(passwordFile, `${SMTP_PASSWORD}\n`, { mode: 0o600 });
    // `app` names a database that does not exist yet: its backups fail until the test creates it.
    appDb = `bmt_notify_app_${randomBytes(4).toString('hex')}`;
    oldDb = await createPgDatabase('notify_old');
    await pgQuery(oldDb, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)');
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${appDb}`,
      BACKUP_TARGET_OLD_URL: `postgres://postgres@127.0.0.1:5432/${oldDb}`,
      BACKUP_TARGET_OLD_MAX_AGE_HOURS: '1',
      NOTIFY_CHECK_INTERVAL_MS: String(CHECK_INTERVAL_MS),
      NOTIFY_BACKOFF_MS: '100',
      NOTIFY_ATTEMPTS: '5',
      NOTIFY_PUBLIC_URL: 'https://backups.example.com/api/v1',
      NOTIFY_CHANNELS: JSON.stringify([
        {
          name: 'ops-mail',
          kind: 'email',
          host: '127.0.0.1',
          port: smtp.port,
          security: 'starttls',
          caCertificate: smtp.tls.cert,
          username: 'bm-mailer',
          passwordFile,
          from: 'backups@example.com',
          to: ['ops@example.com', 'dba@example.com'],
          events: ['backup.failed', 'target.stale'],
        },
      ]),
    });
    t.app.useLogger(logger);
  });

  afterAll(async () => {
    await t?.close();
    await smtp?.stop();
    await http?.stop();
    await dropPgDatabase(appDb);
    await dropPgDatabase(oldDb);
    rmSync(secretsDir, { recursive: true, force: true });
  });

  async function backup(target: string): Promise<any> {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target } });
    expect(r.status).toBe(202);
    return waitForBackup(t, r.body.id);
  }

  it('a failing backup sends exactly one e-mail; a second failure inside the window none; a success "resolved"', async () => {
    const first = await backup('app');
    expect(first.status).toBe('FAILED');
    const [mail] = await waitFor(async () => (mailsAbout('backup of "app" failed').length ? mailsAbout('backup of "app" failed') : undefined), 'the failure e-mail', 30_000);
    expect(mail.subject).toBe('[backup-manager] FAILED: backup of "app" failed');
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value.map((a) => a.address) : []).toEqual(['ops@example.com', 'dba@example.com']);
    expect(mail.from?.value[0].address).toBe('backups@example.com');
    // The plain-text and HTML parts say what, which target, when, the error, what next, and link the record.
    expect(mail.text).toContain('Target:');
    expect(mail.text).toMatch(/Target:\s+app/);
    expect(mail.text).toContain(first.errorMessage);
    expect(mail.text).toContain(`does not exist`);
    expect(mail.text).toContain('What to do next:');
    expect(mail.text).toContain(`https://backups.example.com/api/v1/backups/${first.id}`);
    expect(mail.html).toContain('<table>');
    expect(mail.html).toContain(`https://backups.example.com/api/v1/backups/${first.id}`);
    expect(smtp.logins).toContain('bm-mailer');

    const second = await backup('app');
    expect(second.status).toBe('FAILED');
    // The second failure is counted on the condition, and suppressed: nothing is sent.
    const condition = await waitFor(async () => {
      const r = await api(t, 'GET', '/api/v1/notifications/alerts');
      return r.body.find((c: any) => c.key === 'backup.failed:app' && c.occurrences === 2);
    }, 'the second occurrence', 30_000);
    expect(condition).toMatchObject({ active: true, suppressed: 1, target: 'app' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(mailsAbout('"app"')).toHaveLength(1);

    await pgQuery('postgres', `CREATE DATABASE "${appDb}"`);
    await pgQuery(appDb, 'CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2)');
    const good = await backup('app');
    expect(['COMPLETED', 'VERIFIED']).toContain(good.status);
    const [resolved] = await waitFor(async () => (mailsAbout('RESOLVED').length ? mailsAbout('RESOLVED') : undefined), 'the resolved e-mail', 30_000);
    expect(resolved.subject).toBe('[backup-manager] RESOLVED: backups of "app" work again');
    expect(resolved.text).toContain('after 2 failure(s)');
    expect(mailsAbout('"app"')).toHaveLength(2);

    const deliveries = (await api(t, 'GET', '/api/v1/notifications/deliveries?event=backup.failed')).body.items;
    expect(deliveries.map((d: any) => [d.state, d.status, d.channelName])).toEqual([
      ['resolved', 'delivered', 'ops-mail'],
      ['alert', 'delivered', 'ops-mail'],
    ]);
    expect(deliveries[1].attempts).toHaveLength(1);
    expect(deliveries[1].attempts[0]).toMatchObject({ outcome: 'delivered', statusCode: 250 });
    expect(deliveries[1].recordId).toBe(first.id);
  }, 120_000);

  it('a stale target alerts within one check interval, and resolves when a fresh backup exists', async () => {
    // A good backup three hours old, for a target allowed one hour (VERIFIED: the reconciler would
    // verify a COMPLETED one again, and find no file for it).
    const ds = t.app.get<DataSource>(CATALOG_DATA_SOURCE, { strict: false });
    const at = new Date(Date.now() - 3 * 3600_000);
    const id = '0ddba11a-0000-4000-8000-000000000001';
    await ds.getRepository('BackupRecord').insert({
      id, type: 'daily', status: 'VERIFIED', verifiedAt: at, target: 'old', engine: 'postgres', compression: 'zstd', triggeredBy: 'test',
      createdAt: at, startedAt: at, completedAt: at, sizeBytes: 1234,
    });
    const inserted = Date.now();
    const [mail] = await waitFor(async () => (mailsAbout('no recent backup of "old"').length ? mailsAbout('no recent backup of "old"') : undefined), 'the stale e-mail', 30_000);
    const condition = (await api(t, 'GET', '/api/v1/notifications/alerts')).body.find((c: any) => c.key === 'target.stale:old');
    // Decided at the first check after the backup became the newest (one interval, plus a check's own time).
    expect(new Date(condition.firstAt).getTime() - inserted).toBeLessThan(CHECK_INTERVAL_MS + 2000);
    expect(mail.text).toMatch(/is 3 h old; at most 60 min is allowed/);
    expect(mail.text).toContain(id);

    const fresh = await backup('old');
    expect(['COMPLETED', 'VERIFIED']).toContain(fresh.status);
    const [resolved] = await waitFor(async () => (mailsAbout('"old" has a recent backup again').length ? mailsAbout('"old" has a recent backup again') : undefined), 'the fresh e-mail', 30_000);
    expect(resolved.subject).toMatch(/^\[backup-manager\] RESOLVED: /);
    expect(mailsAbout('"old"')).toHaveLength(2);
  }, 60_000);

  it('a generic webhook is signed: the signature verifies with the shared key, a tampered body does not', async () => {
    const created = await api(t, 'POST', '/api/v1/notifications/channels', {
      body: { name: 'hook', kind: 'webhook', url: `${http.url}/hook/${HOOK_TOKEN}?k=${HOOK_TOKEN}`, secret: HMAC_KEY, events: ['restore.completed'] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ kind: 'webhook', source: 'api', events: ['restore.completed'], secretsSet: ['url', 'secret'], settings: { url: `${http.url}/…` } });
    const test = await api(t, 'POST', `/api/v1/notifications/channels/${created.body.id}/test`);
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ delivered: true, statusCode: 200, answer: 'HTTP 200: ok, got it' });
    const [req] = http.to(`/hook/${HOOK_TOKEN}?k=${HOOK_TOKEN}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-backup-manager-event']).toBe('test');
    expect(req.headers['x-backup-manager-delivery']).toBe(test.body.deliveryId);
    expect(verifySignature(HMAC_KEY, req)).toBe(true);
    expect(verifySignature('another-key-of-some-length', req)).toBe(false);
    const tampered = req.raw.replace('"test"', '"backup.failed"');
    expect(tampered).not.toBe(req.raw);
    expect(verifySignature(HMAC_KEY, { ...req, raw: tampered })).toBe(false);
    expect(verifySignature(HMAC_KEY, { ...req, headers: { ...req.headers, 'x-backup-manager-timestamp': String(Number(req.headers['x-backup-manager-timestamp']) - 1) } })).toBe(false);
    expect(JSON.parse(req.raw)).toMatchObject({ version: 1, delivery: test.body.deliveryId, event: 'test', state: 'test', title: 'test message for channel "hook"' });
  });

  it('a receiver answering 500, 500, then 200 gets the message once, with three attempts recorded', async () => {
    http.answers.set('/flaky', [500, 500, 200]);
    const created = await api(t, 'POST', '/api/v1/notifications/channels', { body: { name: 'flaky', kind: 'webhook', url: `${http.url}/flaky`, secret: HMAC_KEY, events: ['backup.succeeded'] } });
    expect(created.status).toBe(201);
    const done = await backup('old');
    const delivery = await waitFor(async () => {
      const r = await api(t, 'GET', `/api/v1/notifications/deliveries?channel=${created.body.id}`);
      return r.body.items.find((d: any) => d.status === 'delivered');
    }, 'the delivered message', 30_000);
    expect(delivery.event).toBe('backup.succeeded');
    expect(delivery.recordId).toBe(done.id);
    expect(delivery.attempts.map((a: any) => [a.attempt, a.outcome, a.statusCode])).toEqual([
      [1, 'failed', 500],
      [2, 'failed', 500],
      [3, 'delivered', 200],
    ]);
    expect(delivery.attempts[0].answer).toBe('HTTP 500: receiver says 500');
    const got = http.to('/flaky');
    expect(got).toHaveLength(3);
    // Each try is signed anew, and the receiver saw the same message three times.
    expect(new Set(got.map((r) => JSON.parse(r.raw).delivery))).toEqual(new Set([delivery.id]));
    expect(got.every((r) => verifySignature(HMAC_KEY, r))).toBe(true);
  });

  it('the Slack, Discord, Teams and Telegram presets send their documented JSON shapes', async () => {
    const make = async (body: Record<string, unknown>) => {
      const r = await api(t, 'POST', '/api/v1/notifications/channels', { body });
      expect(r.status).toBe(201);
      const test = await api(t, 'POST', `/api/v1/notifications/channels/${r.body.id}/test`);
      expect(test.body).toMatchObject({ delivered: true, statusCode: 200 });
      return r.body;
    };
    await make({ name: 'slack', kind: 'slack', url: `${http.url}/services/T0/B0/${SLACK_TOKEN}` });
    const slack = JSON.parse(http.to(`/services/T0/B0/${SLACK_TOKEN}`)[0].raw);
    expect(slack.text).toBe('[backup-manager] TEST: test message for channel "slack"');
    expect(slack.blocks.map((b: any) => b.type)).toEqual(['header', 'section', 'section', 'section', 'context']);
    expect(slack.blocks[0].text).toEqual({ type: 'plain_text', text: 'TEST: test message for channel "slack"' });
    expect(slack.blocks[2].fields[0]).toEqual({ type: 'mrkdwn', text: '*Event*\ntest' });

    await make({ name: 'discord', kind: 'discord', url: `${http.url}/api/webhooks/1/discord-token` });
    const discord = JSON.parse(http.to('/api/webhooks/1/discord-token')[0].raw);
    expect(discord).toMatchObject({ username: 'backup-manager', allowed_mentions: { parse: [] } });
    expect(discord.embeds).toHaveLength(1);
    expect(discord.embeds[0]).toMatchObject({ title: 'TEST: test message for channel "discord"', color: expect.any(Number), footer: { text: 'backup-manager · test' } });
    expect(discord.embeds[0].fields[0]).toEqual({ name: 'Event', value: 'test', inline: true });

    await make({ name: 'teams', kind: 'teams', url: `${http.url}/workflows/teams-token` });
    const teams = JSON.parse(http.to('/workflows/teams-token')[0].raw);
    expect(teams.type).toBe('message');
    expect(teams.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(teams.attachments[0].content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(teams.attachments[0].content.body.map((b: any) => b.type)).toEqual(['TextBlock', 'TextBlock', 'FactSet', 'TextBlock']);
    expect(teams.attachments[0].content.body[2].facts[0]).toEqual({ title: 'Event', value: 'test' });

    await make({ name: 'telegram', kind: 'telegram', botToken: BOT_TOKEN, chatId: '-1001234567890', apiUrl: `${http.url}/tg` });
    const [tg] = http.requests.filter((r) => r.path.startsWith('/tg/'));
    expect(tg.path).toBe(`/tg/bot${BOT_TOKEN}/sendMessage`);
    const body = JSON.parse(tg.raw);
    expect(body).toMatchObject({ chat_id: -1001234567890, parse_mode: 'HTML', disable_web_page_preview: true });
    expect(body.text).toMatch(/^<b>TEST: test message for channel &quot;telegram&quot;<\/b>\n/);
  });

  it('refuses a bad URL, e-mail address or event with 400 VALIDATION_FAILED naming the field; configured channels are read-only', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: 'bad-url', kind: 'webhook', url: 'not a url', secret: HMAC_KEY }, /url is not a valid URL/],
      [{ name: 'bad-scheme', kind: 'slack', url: 'ftp://hooks.example.com/x' }, /url must use http:\/\/ or https:\/\/ \(got ftp:\/\/\)/],
      [{ name: 'bad-to', kind: 'email', host: 'smtp.example.com', from: 'a@example.com', to: ['ops@example.com', 'nope'] }, /to\[1\] must be an e-mail address such as ops@example.com \(got "nope"\)/],
      [{ name: 'bad-from', kind: 'email', host: 'smtp.example.com', from: 'me', to: ['ops@example.com'] }, /from must be an e-mail address/],
      [{ name: 'no-secret', kind: 'webhook', url: 'https://hooks.example.com/x' }, /secret is required for webhook channels/],
      [{ name: 'bad-event', kind: 'slack', url: 'https://hooks.example.com/x', events: ['backup.exploded'] }, /events must name known events/],
      [{ name: 'wrong-field', kind: 'slack', url: 'https://hooks.example.com/x', host: 'smtp.example.com' }, /host does not apply to slack channels/],
    ];
    for (const [body, message] of cases) {
      const r = await api(t, 'POST', '/api/v1/notifications/channels', { body });
      expect({ name: body.name, status: r.status, code: r.body.code }).toEqual({ name: body.name, status: 400, code: 'VALIDATION_FAILED' });
      expect(String(r.body.message)).toMatch(message);
    }
    const list = (await api(t, 'GET', '/api/v1/notifications/channels')).body;
    const mail = list.find((c: any) => c.name === 'ops-mail');
    expect(mail).toMatchObject({ source: 'config', kind: 'email', secretsSet: ['password'], settings: { host: '127.0.0.1', username: 'bm-mailer' } });
    const patch = await api(t, 'PATCH', `/api/v1/notifications/channels/${mail.id}`, { body: { enabled: false } });
    expect({ status: patch.status, code: patch.body.code }).toEqual({ status: 409, code: 'CHANNEL_READ_ONLY' });
    const taken = await api(t, 'POST', '/api/v1/notifications/channels', { body: { name: 'hook', kind: 'slack', url: 'https://hooks.example.com/x' } });
    expect({ status: taken.status, code: taken.body.code }).toEqual({ status: 409, code: 'CHANNEL_NAME_TAKEN' });
    const viewer = await api(t, 'GET', '/api/v1/notifications/channels', { token: t.token('operator') });
    expect(viewer.status).toBe(403);
    const missing = await api(t, 'DELETE', '/api/v1/notifications/channels/5d0c2a7e-8f1b-4c3d-9e2f-1a2b3c4d5e6f');
    expect({ status: missing.status, code: missing.body.code }).toEqual({ status: 404, code: 'CHANNEL_NOT_FOUND' });
  });

  it('a channel changed through the API keeps its secrets unless given, and a deleted one is gone', async () => {
    const hook = (await api(t, 'GET', '/api/v1/notifications/channels')).body.find((c: any) => c.name === 'hook');
    const changed = await api(t, 'PATCH', `/api/v1/notifications/channels/${hook.id}`, { body: { events: null, name: 'hook2' } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ name: 'hook2', defaultEvents: true, secretsSet: ['url', 'secret'] });
    expect(changed.body.events).toEqual(expect.arrayContaining(['backup.failed', 'target.stale', 'restore.failed']));
    expect(changed.body.events).not.toContain('backup.succeeded');
    const test = await api(t, 'POST', `/api/v1/notifications/channels/${hook.id}/test`);
    expect(test.body.delivered).toBe(true);
    expect(verifySignature(HMAC_KEY, http.to(`/hook/${HOOK_TOKEN}?k=${HOOK_TOKEN}`).at(-1)!)).toBe(true);
    const gone = await api(t, 'DELETE', `/api/v1/notifications/channels/${hook.id}`);
    expect(gone.status).toBe(200);
    expect((await api(t, 'GET', `/api/v1/notifications/channels/${hook.id}`)).status).toBe(404);
  });

  it('secrets appear in no response, log line, audit event, Redis key or delivery record', async () => {
    const secrets = [SMTP_PASSWORD, HMAC_KEY, HOOK_TOKEN, SLACK_TOKEN, BOT_TOKEN, BOT_TOKEN.split(':')[1], 'discord-token', 'teams-token'];
    const texts: Array<[string, string]> = [];
    for (const path of ['/api/v1/notifications/channels', '/api/v1/notifications/deliveries?limit=200', '/api/v1/notifications/alerts', '/api/v1/audit?limit=500']) {
      const r = await api(t, 'GET', path);
      expect(r.status).toBe(200);
      texts.push([path, r.text]);
    }
    const audit = JSON.parse(texts[3][1]).items.map((e: any) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['notification.channel.create', 'notification.channel.update', 'notification.channel.delete', 'notification.channel.test']));
    const ds = t.app.get<DataSource>(CATALOG_DATA_SOURCE, { strict: false });
    texts.push(['deliveries table', JSON.stringify(await ds.query('SELECT * FROM bm_notification_deliveries'))]);
    texts.push(['conditions table', JSON.stringify(await ds.query('SELECT * FROM bm_notification_conditions'))]);
    texts.push(['audit table', JSON.stringify(await ds.query('SELECT * FROM bm_audit_events'))]);
    const redis = new Redis(REDIS_URL);
    try {
      const values: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${t.env.QUEUE_PREFIX}:*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const type = await redis.type(key);
          values.push(key);
          if (type === 'string') values.push((await redis.get(key)) ?? '');
          else if (type === 'hash') values.push(JSON.stringify(await redis.hgetall(key)));
          else if (type === 'list') values.push(JSON.stringify(await redis.lrange(key, 0, -1)));
          else if (type === 'set') values.push(JSON.stringify(await redis.smembers(key)));
          else if (type === 'zset') values.push(JSON.stringify(await redis.zrange(key, 0, -1)));
          else if (type === 'stream') values.push(JSON.stringify(await redis.xrange(key, '-', '+')));
        }
      } while (cursor !== '0');
      const text = values.join('\n');
      expect(text).toContain(':notifications:'); // the delivery jobs are there to search
      texts.push(['redis', text]);
    } finally {
      redis.disconnect();
    }
    expect(logger.lines.length).toBeGreaterThan(0);
    texts.push(['logs', logger.lines.join('\n')]);
    const leaks = texts.flatMap(([where, text]) => secrets.filter((s) => text.includes(s) || text.includes(encodeURIComponent(s))).map((s) => `${where}: ${s.slice(0, 6)}…`));
    expect(leaks).toEqual([]);
  });
});
