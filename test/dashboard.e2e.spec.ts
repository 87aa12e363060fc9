import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page, type Request } from 'playwright-core';
import { AccountsService } from '../src/accounts/accounts.service.js';
import { Role } from '../src/auth/roles.js';
import { api, waitForSettled } from './support/api.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { startS3, type TestS3 } from './support/s3.js';

/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core), against the
 * whole service: PostgreSQL target, Redis queue, workers. Every page may reach the service and
 * nothing else: each context refuses (and records) any other request. Each test saves a
 * screenshot under SCREENSHOT_DIR (default: <tmp>/backup-manager-dashboard). An S3 destination
 * `offsite` (s3rver, this file's own) is configured but not a default: only the backups that ask
 * for it go there.
 */
const CHROMIUM = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p));
const SHOTS = process.env.SCREENSHOT_DIR ?? join(tmpdir(), 'backup-manager-dashboard');
const ADMIN = { username: 'ada', password: 'first-admin-pw-2718' };
const VIEWER = { username: 'val', password: 'read-only-pw-3141' };
const LOCKED = { username: 'lou', password: 'operator-pw-1618' };

let t: TestApp;
let db: string;
let s3: TestS3;
let browser: Browser;
let evil: Server;
let evilUrl: string;
const contexts: Array<{ ctx: BrowserContext; foreign: string[] }> = [];

/** A browser context that may talk to the service only (and to `alsoAllow`), recording anything else it tries. */
async function newPage(opts: { width?: number; alsoAllow?: string } = {}): Promise<{ page: Page; foreign: string[]; ctx: BrowserContext }> {
  const ctx = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: 900 }, locale: 'en-US', timezoneId: 'UTC' });
  const foreign: string[] = [];
  await ctx.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${t.url}/`) || (opts.alsoAllow && url.startsWith(opts.alsoAllow))) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  contexts.push({ ctx, foreign });
  const page = await ctx.newPage();
  return { page, foreign, ctx };
}

async function login(page: Page, who: { username: string; password: string }): Promise<void> {
  await page.goto(`${t.url}/`);
  await page.getByLabel('Username').fill(who.username);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('whoami').waitFor();
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

/** A backup made through the API (for the tests that start from one), once VERIFIED. */
async function verifiedBackup(): Promise<string> {
  const token = t.token(Role.Admin);
  const res = await fetch(`${t.url}/api/v1/backups`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: 'app' }) });
  const { id } = (await res.json()) as { id: string };
  await waitFor(async () => {
    const b = (await (await fetch(`${t.url}/api/v1/backups/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: string };
    return b.status === 'VERIFIED';
  }, 'the backup to be verified');
  return id;
}

/** Requests a backup of `app` into `storages` through the API. @returns its id. */
async function backupInto(storages: string[]): Promise<string> {
  const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app', storages } });
  expect(r.status).toBe(202);
  return r.body.id as string;
}

/** sRGB relative luminance (WCAG 2) of a computed CSS colour such as `rgb(154, 103, 0)`. */
function luminance(css: string): number {
  const [r, g, b] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The WCAG contrast ratio of an element's text against the first background behind it that is painted. */
async function contrastOf(el: Locator): Promise<number> {
  const { color, backgrounds } = await el.evaluate((node) => {
    const style = (n: unknown) => (globalThis as any).getComputedStyle(n);
    const backgrounds: string[] = [];
    for (let n: any = node; n; n = n.parentElement) backgrounds.push(style(n).backgroundColor as string);
    return { color: style(node).color as string, backgrounds };
  });
  const painted = backgrounds.find((c) => !/^rgba\(.*,\s*0\)$/.test(c) && c !== 'transparent') ?? 'rgb(255, 255, 255)';
  const [hi, lo] = [luminance(color), luminance(painted)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('chromium is not installed: apt-get install chromium (.ci/run does)');
  mkdirSync(SHOTS, { recursive: true });
  db = await createPgDatabase('dash');
  await pgQuery(db, 'CREATE TABLE orders (id int PRIMARY KEY, ref text); INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 500) g;');
  s3 = await startS3();
  t = await startTestApp({ BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`, LOGIN_MAX_FAILURES: '3', LOGIN_LOCKOUT_SECONDS: '60', ...s3.env('offsite', 'dash') });
  const accounts = t.app.get(AccountsService, { strict: false });
  await accounts.createUser(ADMIN.username, Role.Admin, ADMIN.password);
  await accounts.createUser(VIEWER.username, Role.Viewer, VIEWER.password);
  await accounts.createUser(LOCKED.username, Role.Operator, LOCKED.password);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  // Another site: "localhost" is not the same site as "127.0.0.1", whatever the port.
  evil = createServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<form id="f" method="POST" action="${t.url}/api/v1/backups" enctype="text/plain"><input name='{"target":"app","x":"' value='"}'></form><script>document.getElementById('f').submit()</script>`);
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  evilUrl = `http://localhost:${(evil.address() as { port: number }).port}`;
}, 120_000);

afterEach(async () => {
  // Nothing beyond the service: every context's refused requests, in every test.
  for (const { ctx, foreign } of contexts.splice(0)) {
    await ctx.close();
    expect(foreign).toEqual([]);
  }
});

afterAll(async () => {
  await browser?.close();
  evil?.close();
  await t?.close();
  await s3?.stop();
  if (db) await dropPgDatabase(db);
});

describe('the dashboard in a browser', () => {
  it('is served from the build, under 300 KB gzipped, with a policy that allows this service only', async () => {
    const res = await fetch(`${t.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'.*connect-src 'self'.*frame-ancestors 'none'/);
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1]);
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    expect(html).not.toMatch(/https?:\/\//);
    let gz = 0;
    for (const a of assets) {
      const body = Buffer.from(await (await fetch(`${t.url}/${a}`)).arrayBuffer());
      expect(body.toString('latin1')).not.toMatch(/(src|href)=["']https?:\/\/|url\(["']?https?:/);
      gz += gzipSync(body, { level: 9 }).length;
    }
    expect(gz).toBeLessThanOrEqual(300 * 1024);
    // Unknown paths stay the API's JSON 404.
    expect((await fetch(`${t.url}/nope`)).status).toBe(404);
  });

  it('an admin logs in, starts a backup and watches it reach VERIFIED without reloading', async () => {
    const { page } = await newPage();
    await login(page, ADMIN);
    await page.getByRole('link', { name: 'Backups' }).click();
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    await page.getByRole('button', { name: 'Start backup' }).click();
    await page.getByText(/Backup [0-9a-f]{8} of app queued/).waitFor();
    const row = page.locator('tr[data-backup-id]').first();
    // The row changes as the events arrive: no reload, no polling by the test.
    await row.locator('[data-status="VERIFIED"]').waitFor({ timeout: 60_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
    await shot(page, 'backups-verified');
    await row.getByRole('link').click();
    await expect(page.getByTestId('checksum').textContent()).resolves.toMatch(/^[0-9a-f]{64}$/);
  });

  it('the restore wizard refuses until the database name is typed, then restores it', async () => {
    const id = await verifiedBackup();
    await pgQuery(db, 'DELETE FROM orders WHERE id > 100');
    const { page } = await newPage();
    await login(page, ADMIN);
    await page.goto(`${t.url}/#/backups/${id}`);
    await page.getByRole('link', { name: 'Restore…' }).click();
    await page.getByText('the target’s own database').waitFor();
    const restore = page.getByRole('button', { name: `Restore ${db}` });
    await expect(restore.isDisabled()).resolves.toBe(true);
    await page.getByLabel(/Type the database name/).fill(`${db}x`);
    await expect(restore.isDisabled()).resolves.toBe(true);
    await page.getByLabel(/Type the database name/).fill(db);
    await expect(restore.isEnabled()).resolves.toBe(true);
    await expect(page.getByLabel(/safety backup/).isChecked()).resolves.toBe(true);
    await shot(page, 'restore-confirm');
    await restore.click();
    await page.getByTestId('restore-status').locator('[data-status="COMPLETED"]').waitFor({ timeout: 90_000 });
    await page.getByText(/The database as it was is kept as backup/).waitFor();
    await shot(page, 'restore-done');
    expect((await pgQuery(db, 'SELECT count(*)::int AS n FROM orders'))[0].n).toBe(500);
  });

  it('creating a schedule shows its next runs in the chosen time zone', async () => {
    const { page } = await newPage();
    await login(page, ADMIN);
    await page.getByRole('link', { name: 'Schedules' }).click();
    await page.getByLabel('Name', { exact: true }).fill('tokyo-night');
    await page.getByLabel('Time zone').selectOption('Asia/Tokyo');
    await page.getByRole('radio', { name: 'Cron' }).check();
    await page.getByLabel('Cron expression').fill('30 3 * * *');
    // Before saving: the next runs as the server computes them, shown in the chosen zone.
    await page.getByTestId('preview-runs').getByText(/3:30 AM GMT\+9/).first().waitFor();
    await page.getByRole('button', { name: 'Save schedule' }).click();
    const runs = page.getByTestId('runs-tokyo-night').locator('time');
    await runs.first().waitFor();
    const times = await runs.evaluateAll((els) => els.map((e) => ({ text: e.textContent, iso: e.getAttribute('datetime') })));
    expect(times).toHaveLength(5);
    for (const r of times) {
      expect(r.text).toMatch(/3:30 AM GMT\+9$/);
      expect(new Date(r.iso!).toISOString()).toMatch(/T18:30:00\.000Z$/); // 03:30 in Tokyo is 18:30 UTC the day before
    }
    await shot(page, 'schedules');
    // By now the target has several backups and a schedule: the overview's trends and next run.
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'app' }).waitFor();
    await page.getByText(/^in \d+ (h|min)$/).waitFor();
    await page.getByRole('img', { name: /^Size: \d+ backups/ }).waitFor();
    await shot(page, 'overview');
    // Notification channels: made here, listed with which write-only secrets are set (never their values).
    await page.getByRole('link', { name: 'Notifications' }).click();
    await page.getByText('No channels yet.').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('ops-slack');
    await page.getByLabel('Incoming webhook URL').fill('https://hooks.slack.example/services/T0/B0/secretpart');
    await page.getByRole('checkbox', { name: /backup\.failed/ }).check();
    await page.getByRole('button', { name: 'Create channel' }).click();
    await page.getByRole('heading', { name: /ops-slack \(slack\)/ }).waitFor();
    await page.getByText('Events: backup.failed · secrets set: url').waitFor();
    expect(await page.content()).not.toContain('secretpart');
    await shot(page, 'notifications');
  });

  it('a viewer sees no restore, delete or start controls, and a forged request from its session gets 403 (at 390 px)', async () => {
    const id = await verifiedBackup();
    const { page } = await newPage({ width: 390 });
    await login(page, VIEWER);
    await page.goto(`${t.url}/#/backups`);
    await page.locator('tr[data-backup-id]').first().waitFor();
    await expect(page.getByRole('button', { name: 'Start backup' }).count()).resolves.toBe(0);
    await page.goto(`${t.url}/#/backups/${id}`);
    await page.getByTestId('checksum').waitFor();
    await expect(page.getByRole('link', { name: 'Download' }).count()).resolves.toBe(1);
    for (const name of [/Restore/, /Delete/, /Verify/, /Pin/]) await expect(page.getByRole('button', { name }).or(page.getByRole('link', { name })).count()).resolves.toBe(0);
    for (const name of ['Audit log', 'Cache', 'Notifications']) await expect(page.getByRole('link', { name }).count()).resolves.toBe(0);
    expect(await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, 'viewer-390px');
    // The page shows no button, but the API decides: the viewer's own session, with its CSRF token.
    const forged = await page.evaluate(async (backupId) => {
      const csrf = /bm_csrf=([^;]+)/.exec((globalThis as any).document.cookie)?.[1] ?? '';
      const r = await fetch(`/api/v1/backups/${backupId}/restore`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ confirm: true }) });
      return { status: r.status, body: await r.json() };
    }, id);
    expect(forged).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    const del = await page.evaluate(async (backupId) => {
      const csrf = /bm_csrf=([^;]+)/.exec((globalThis as any).document.cookie)?.[1] ?? '';
      return (await fetch(`/api/v1/backups/${backupId}`, { method: 'DELETE', headers: { 'x-csrf-token': csrf } })).status;
    }, id);
    expect(del).toBe(403);
  });

  it('wrong passwords lock the account, logout ends the session, and a cross-site POST is refused', async () => {
    const { page, ctx } = await newPage({ alsoAllow: evilUrl });
    await page.goto(`${t.url}/`);
    for (let i = 0; i < 3; i++) {
      await page.getByLabel('Username').fill(LOCKED.username);
      await page.getByLabel('Password').fill(`wrong-${i}-password`);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('alert').getByText('Wrong username or password').waitFor();
    }
    await page.getByLabel('Password').fill(LOCKED.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').getByText(/it is locked, retry in \d+ s/).waitFor();
    await shot(page, 'locked');

    await login(page, ADMIN);
    const session = (await ctx.cookies()).find((c) => c.name === 'bm_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    const before = (await (await fetch(`${t.url}/api/v1/backups`, { headers: { authorization: `Bearer ${t.token(Role.Admin)}` } })).json()) as { total: number };

    // Another site's form posts to the API: the browser sends no SameSite=Strict cookie, nothing happens.
    const posted = page.waitForResponse((r) => r.url() === `${t.url}/api/v1/backups` && r.request().method() === 'POST');
    await page.goto(evilUrl);
    expect((await posted).status()).toBe(401);
    // The same POST from the service's own page, with the cookie but without the CSRF token: 403.
    await page.goto(`${t.url}/#/overview`);
    await page.getByTestId('whoami').waitFor();
    const noToken = await page.evaluate(async () => {
      const r = await fetch('/api/v1/backups', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ target: 'app' }) });
      return { status: r.status, body: await r.json() };
    });
    expect(noToken).toMatchObject({ status: 403, body: { code: 'CSRF_REJECTED' } });
    const after = (await (await fetch(`${t.url}/api/v1/backups`, { headers: { authorization: `Bearer ${t.token(Role.Admin)}` } })).json()) as { total: number };
    expect(after.total).toBe(before.total);

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    // The old cookie, put back by hand, no longer opens anything: the session ended on the server.
    await ctx.addCookies([session]);
    const replay = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status);
    expect(replay).toBe(401);
    await shot(page, 'logged-out');
  });
});

describe('a backup whose S3 copy failed, in the browser', () => {
  // NOTE: last in this file: it stops the S3 server for good.
  it('reads as degraded, naming the destination, in the list, on its page, in the restore wizard and on the overview; a whole backup beside it does not', async () => {
    const wholeId = await backupInto(['local', 'offsite']);
    const whole = await waitForSettled(t, wholeId);
    expect(whole).toMatchObject({ status: 'VERIFIED', degraded: false, failedDestinations: [] });
    const { page } = await newPage();
    const streams: Request[] = [];
    page.on('request', (r) => {
      if (r.url() === `${t.url}/api/v1/events`) streams.push(r);
    });
    await login(page, ADMIN);
    await page.goto(`${t.url}/#/backups`);
    await page.locator(`tr[data-backup-id="${wholeId}"]`).waitFor();
    // The overview's event stream closes and the backups page opens its own: the next backup's events reach it.
    await waitFor(async () => streams.length >= 2 && !!(await streams.at(-1)!.response()), 'the backups page to listen to events');

    // S3 goes down: the next backup is written to local disk only, its S3 copy fails.
    await s3.kill();
    const id = await backupInto(['local', 'offsite']);
    const statusCell = (backupId: string) => page.locator(`tr[data-backup-id="${backupId}"] td`).nth(3);
    // On the page already open, from the events alone.
    await statusCell(id).locator('[data-status="VERIFIED"]').waitFor({ timeout: 60_000 });
    await statusCell(id).getByText('degraded: offsite', { exact: true }).waitFor();
    const done = await waitForSettled(t, id);
    expect(done).toMatchObject({ status: 'VERIFIED', degraded: true, failedDestinations: ['offsite'] });
    expect(done.destinations.find((d: any) => d.storage === 'offsite')).toMatchObject({ state: 'FAILED' });

    // The list as anyone opening it sees it.
    await page.reload();
    await statusCell(wholeId).locator('[data-status="VERIFIED"]').waitFor();
    expect(await statusCell(id).textContent()).toBe('VERIFIED degraded: offsite');
    expect(await statusCell(id).getByText('degraded: offsite').getAttribute('title')).toMatch(/offsite lacks its copy/);
    expect(await statusCell(wholeId).textContent()).toBe('VERIFIED');
    // Both chips readable (WCAG AA, 4.5:1), in the light and the dark colour scheme, and so is
    // text on the accent colour.
    const faint: string[] = [];
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      for (const text of ['VERIFIED', 'degraded: offsite']) {
        const ratio = await contrastOf(statusCell(id).getByText(text, { exact: true }));
        if (ratio < 4.5) faint.push(`${text} (${colorScheme}): ${ratio.toFixed(2)}:1`);
      }
      // Text on the accent colour: the page's own menu entry and the main button.
      for (const [what, el] of [
        ['menu entry of this page', page.locator(".top nav a[aria-current='page']")],
        ['main button', page.locator('button.primary').first()],
      ] as const) {
        const ratio = await contrastOf(el);
        if (ratio < 4.5) faint.push(`${what} (${colorScheme}): ${ratio.toFixed(2)}:1`);
      }
      await shot(page, `backups-degraded-${colorScheme}`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    expect(faint).toEqual([]);

    // Its page: the chip in the heading, the banner, the failed copy under Destinations.
    await page.locator(`tr[data-backup-id="${id}"]`).getByRole('link').first().click();
    const heading = page.getByRole('heading', { level: 1 });
    await heading.getByText('degraded: offsite', { exact: true }).waitFor();
    expect(await heading.textContent()).toBe(`Backup ${id.slice(0, 8)} of app VERIFIED degraded: offsite`);
    await page.getByRole('status').filter({ hasText: 'Degraded: offsite lacks its copy (see Destinations)' }).waitFor();
    const offsite = page.getByRole('region', { name: 'Destinations', exact: true }).getByRole('row').filter({ hasText: 'offsite' });
    expect(await offsite.textContent()).toContain('FAILED');
    // Why the copy failed is on screen, not past the table's right edge.
    const why = done.destinations.find((d: any) => d.storage === 'offsite').errorMessage as string;
    expect(why).toMatch(/^re-copy from local failed: storage "offsite" \(.*\): could not upload .*: the server did not answer \(connect ECONNREFUSED [^)]*\); check that it is up/);
    expect(why).not.toMatch(/error wrapper/);
    const problem = offsite.getByRole('cell').last();
    expect(await problem.textContent()).toBe(why);
    const box = (await problem.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(page.viewportSize()!.width);
    await shot(page, 'backup-degraded-detail');

    // The restore wizard says it too, before anything is replaced.
    await page.getByRole('link', { name: 'Restore…' }).click();
    await page.getByRole('region', { name: '1. What will be replaced' }).getByText('degraded: offsite', { exact: true }).waitFor();

    // The whole backup's page: no chip, no banner.
    await page.goto(`${t.url}/#/backups/${wholeId}`);
    await page.getByRole('heading', { level: 1, name: new RegExp(`^Backup ${wholeId.slice(0, 8)} of app`) }).waitFor();
    expect(await heading.textContent()).toBe(`Backup ${wholeId.slice(0, 8)} of app VERIFIED`);
    await expect(page.getByText(/degraded/i).count()).resolves.toBe(0);

    // The overview: under "Needs attention", and as the target's last backup.
    await page.getByRole('link', { name: 'Overview' }).click();
    const attention = page.getByRole('region', { name: 'Needs attention' }).getByRole('listitem').filter({ hasText: `app ${id.slice(0, 8)}` });
    await attention.getByText('degraded: offsite', { exact: true }).waitFor();
    expect(await attention.textContent()).toContain('offsite lacks its copy');
    await expect(page.getByRole('region', { name: 'Needs attention' }).getByText(wholeId.slice(0, 8)).count()).resolves.toBe(0);
    expect(await page.getByRole('region', { name: 'app', exact: true }).locator('xpath=.//dt[normalize-space()="Last backup"]/following-sibling::dd[1]').textContent()).toBe('VERIFIED degraded: offsite');
    await shot(page, 'overview-degraded');
  }, 180_000);
});
