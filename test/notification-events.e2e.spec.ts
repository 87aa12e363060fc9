import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { BackupRecopier } from '../src/backup/backup-recopier.service.js';
import { CATALOG_DATA_SOURCE } from '../src/catalog/catalog.module.js';
import { NotificationMonitor } from '../src/notifications/notification-monitor.service.js';
import { JobsWorker } from '../src/queue/jobs-worker.service.js';
import { api, waitForBackup } from './support/api.js';
import { bullQueue, startTestApp, waitFor, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { HttpReceiver } from './support/receivers.js';
import { startS3, type TestS3 } from './support/s3.js';

const HMAC_KEY = `hmac-${randomBytes(12).toString('hex')}`;
const PUBLIC_URL = 'https://backups.example.com/api/v1';
const WORKER_MISSING_MS = 1500;
/** What the `all` channel subscribes to: every event this file fires, the digest included. */
const EVENTS = ['destination.failed', 'verification.corrupted', 'drill.failed', 'restore.completed', 'restore.failed', 'storage.low', 'worker.missing', 'digest.daily'];

interface Message {
  event: string;
  state: string;
  target: string | null;
  title: string;
  summary: string;
  error: string | null;
  next: string | null;
  record: { type: string; id: string; url?: string } | null;
  facts: Record<string, string>;
  lines: string[];
}

/**
 * Each event fired by what really causes it (an unreachable S3 destination, a flipped byte, a drill
 * that finds a difference, restores, a stopped worker, the digest, a disk under the threshold),
 * with one service start; what reaches a local webhook receiver is checked.
 */
describe('notifications: the events, fired for real (issue 18)', () => {
  let t: TestApp;
  let http: HttpReceiver;
  let s3: TestS3;
  let db: string;
  const restoredDbs: string[] = [];
  /** A VERIFIED backup of `app` held by every destination (made by the destination test). */
  let restorable: any;
  /** The file's own ledger of what the `all` channel must have received, checked at the end. */
  const expected: string[] = [];

  const received = (path = '/all') => http.to(path).map((r) => JSON.parse(r.raw) as Message);
  const messages = (event: string, state = 'alert', path = '/all') => received(path).filter((m) => m.event === event && m.state === state);
  const arrival = (event: string, state = 'alert', what = `${event} ${state}`) =>
    waitFor(async () => {
      const got = messages(event, state);
      return got.length ? got : undefined;
    }, `the ${what} message`, 30_000);
  const condition = async (key: string) => (await api(t, 'GET', '/api/v1/notifications/alerts')).body.find((c: any) => c.key === key);
  /** The condition counted a repeat (decided, so a message it sent would be queued by now). */
  const repeated = (key: string, occurrences: number) => waitFor(async () => ((await condition(key))?.occurrences >= occurrences ? condition(key) : undefined), `occurrence ${occurrences} of ${key}`, 30_000);
  /** The deliveries of one event to the `all` channel, as the API records them. */
  const deliveries = async (event: string) => (await api(t, 'GET', `/api/v1/notifications/deliveries?event=${event}&limit=50`)).body.items.filter((d: any) => d.channelName === 'all');

  beforeAll(async () => {
    http = await new HttpReceiver().start();
    s3 = await startS3();
    // The destination `dead` is an S3 server that is down (its port closed) until the test restarts it.
    await s3.kill();
    db = await createPgDatabase('notify_events');
    await pgQuery(db, 'CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 50) g');
    t = await startTestApp(
      {
        BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
        // A target whose database does not exist: its backups fail (the digest counts them).
        BACKUP_TARGET_GONE_URL: `postgres://postgres@127.0.0.1:5432/bmt_notify_gone_${randomBytes(4).toString('hex')}`,
        ...s3.env('dead', 'p'),
        // A threshold no test machine reaches: the storage filesystem is "low" from the start.
        HEALTH_MIN_FREE_MB: String(100_000_000),
        NOTIFY_CHECK_INTERVAL_MS: '300',
        NOTIFY_BACKOFF_MS: '100',
        NOTIFY_PUBLIC_URL: PUBLIC_URL,
        NOTIFY_CHANNELS: JSON.stringify([
          { name: 'all', kind: 'webhook', url: `${http.url}/all`, secret: HMAC_KEY, events: EVENTS },
          { name: 'defaults', kind: 'webhook', url: `${http.url}/defaults`, secret: HMAC_KEY },
        ]),
      },
      (o) => (o.notifications!.workerMissingMs = WORKER_MISSING_MS),
    );
  });

  afterAll(async () => {
    await t?.close();
    await s3?.stop();
    await http?.stop();
    for (const name of [db, ...restoredDbs]) if (name) await dropPgDatabase(name);
  });

  async function backup(target: string, body: Record<string, unknown> = {}): Promise<any> {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target, ...body } });
    expect(r.status).toBe(202);
    return waitForBackup(t, r.body.id);
  }
  /** A backup of `app` that the after-backup verification has settled. */
  async function verifiedBackup(body: Record<string, unknown> = {}): Promise<any> {
    return reaches((await backup('app', body)).id, 'VERIFIED');
  }
  /** The backup's record once it has `status`. */
  function reaches(id: string, status: string): Promise<any> {
    return waitFor(async () => {
      const r = (await api(t, 'GET', `/api/v1/backups/${id}`)).body;
      return r.status === status ? r : undefined;
    }, `backup ${id} to be ${status}`, 60_000);
  }
  async function restore(backupId: string): Promise<any> {
    const database = `bmt_notify_restored_${randomBytes(4).toString('hex')}`;
    restoredDbs.push(database);
    const r = await api(t, 'POST', `/api/v1/backups/${backupId}/restore`, { body: { confirm: true, targetDatabase: database } });
    expect(r.status).toBe(202);
    return waitFor(async () => {
      const run = (await api(t, 'GET', `/api/v1/restores/${r.body.id}`)).body;
      return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(run.status) ? run : undefined;
    }, `restore ${r.body.id} to end`, 60_000);
  }
  async function verify(id: string, drill: boolean): Promise<any> {
    const r = await api(t, 'POST', `/api/v1/backups/${id}/verify`, { body: { drill } });
    expect(r.status).toBe(202);
  }

  it('storage under the threshold alerts once, however many checks find it low', async () => {
    const [msg] = await arrival('storage.low');
    expected.push('storage.low alert -');
    expect(msg).toMatchObject({ title: 'backup storage is running out of space', target: null });
    expect(msg.summary).toMatch(/ free on the storage filesystem; at least 100000000\.0 MiB should be \(HEALTH_MIN_FREE_MB\)\.$/);
    expect(msg.facts.Storage).toBe(t.config.options.storageDir);
    expect(msg.next).toMatch(/delete old backups or tighten retention/);
    await waitFor(async () => ((await condition('storage.low'))?.suppressed >= 2 ? true : undefined), 'two more checks', 15_000);
    expect(messages('storage.low')).toHaveLength(1);
  });

  it('an unreachable S3 destination: one alert naming the destination and the error, none for the next failure, "resolved" with the next backup written there', async () => {
    const first = await verifiedBackup({ storages: ['local', 'dead'] });
    expect(first.degraded).toBe(true);
    const failedCopy = first.destinations.find((d: any) => d.storage === 'dead');
    expect(failedCopy.state).toBe('FAILED');
    const [msg] = await arrival('destination.failed');
    expected.push('destination.failed alert app');
    expect(msg).toMatchObject({ target: 'app', title: 'copy of a "app" backup to "dead" failed', facts: { Destination: 'dead' } });
    expect(msg.record).toEqual({ type: 'backup', id: first.id, url: `${PUBLIC_URL}/backups/${first.id}` });
    // The copy's own message may already say how the first re-copy failed too.
    expect(msg.error).toMatch(/^storage "dead" \(s3:\/\/backups\/p\/ at http:\/\/127\.0\.0\.1:\d+ .*\): could not upload .*ECONNREFUSED/);
    expect(failedCopy.errorMessage).toContain(msg.error);
    expect(msg.next).toMatch(/Check that destination "dead" is reachable/);

    const second = await verifiedBackup({ storages: ['local', 'dead'] });
    expect(second.degraded).toBe(true);
    expect(await repeated('destination.failed:app:dead', 2)).toMatchObject({ active: true, suppressed: 1 });
    expect(messages('destination.failed')).toHaveLength(1);

    // The re-copies queued after each backup give up while the destination is down.
    const queue = bullQueue(t.env.QUEUE_PREFIX);
    try {
      for (const id of [first.id, second.id]) {
        await waitFor(async () => (await (await queue.getJob(`recopy-${id}-dead-after-backup`))?.getState()) === 'failed', `the re-copy of ${id} to give up`, 30_000);
      }
    } finally {
      await queue.close();
    }
    // The destination answers again: the next backup written there ends the condition...
    await s3.restart();
    const third = await verifiedBackup({ storages: ['local', 'dead'] });
    expect(third.degraded).toBe(false);
    restorable = third;
    const [back] = await arrival('destination.failed', 'resolved');
    expected.push('destination.failed resolved app');
    expect(back).toMatchObject({ target: 'app', title: 'copies of "app" to "dead" work again', record: { type: 'backup', id: third.id } });
    // ...and the re-copies that repair the older backups send nothing more.
    await t.app.get(BackupRecopier, { strict: false }).sweep();
    await waitFor(async () => {
      const recs = await Promise.all([first.id, second.id].map(async (id) => (await api(t, 'GET', `/api/v1/backups/${id}`)).body));
      return recs.every((r) => r.degraded === false) ? true : undefined;
    }, 'both re-copies', 30_000);
    expect(messages('destination.failed', 'resolved')).toHaveLength(1);
    expect(await deliveries('destination.failed')).toHaveLength(2);
  });

  it('a restore that completes and one that fails each send one message; a flipped byte makes the backup CORRUPTED, alerted once', async () => {
    const good = restorable;
    const done = await restore(good.id);
    expect(done.status).toBe('COMPLETED');
    const [ok] = await arrival('restore.completed', 'info');
    expected.push('restore.completed info app');
    expect(ok).toMatchObject({ target: 'app', title: 'restore of "app" completed', error: null });
    expect(ok.summary).toBe(`Backup ${good.id} of target "app" was restored into database "${done.database}" (not the target's own).`);
    expect(ok.record).toEqual({ type: 'restore', id: done.id, url: `${PUBLIC_URL}/restores/${done.id}` });
    expect(ok.next).toMatch(/Check that the application works with the restored data/);

    const bad = await verifiedBackup();
    const file = join(t.config.options.storageDir, bad.fileKey);
    const fd = openSync(file, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 100);
    writeSync(fd, Buffer.from([byte[0] ^ 0xff]), 0, 1, 100);
    closeSync(fd);

    const failed = await restore(bad.id);
    expect(failed.status).toBe('FAILED');
    const [no] = await arrival('restore.failed', 'info');
    expected.push('restore.failed info app');
    expect(no).toMatchObject({ target: 'app', title: 'restore of "app" failed', error: failed.errorMessage });
    // The checksum gate, or the decompressor that reads behind it, stops it; either says so.
    expect(no.error).toMatch(/checksum mismatch|did not decompress|not read to its end/);
    expect(no.record).toEqual({ type: 'restore', id: failed.id, url: `${PUBLIC_URL}/restores/${failed.id}` });
    expect(no.next).toBe(`Read the error and the restore's record (GET /api/v1/restores/${failed.id}) before trying again.`);

    await verify(bad.id, false);
    const corrupted = await reaches(bad.id, 'CORRUPTED');
    const [alert] = await arrival('verification.corrupted');
    expected.push('verification.corrupted alert app');
    expect(alert).toMatchObject({ target: 'app', title: 'backup of "app" is CORRUPTED', error: corrupted.errorMessage });
    expect(alert.error).toMatch(/checksum mismatch|does not decompress/);
    expect(alert.record).toEqual({ type: 'backup', id: bad.id, url: `${PUBLIC_URL}/backups/${bad.id}` });
    expect(alert.next).toMatch(/^Do not restore from this backup\. Run a new backup of "app" now/);
    // Verified again, still corrupted: counted, not sent.
    await verify(bad.id, false);
    expect(await repeated('verification.corrupted:app', 2)).toMatchObject({ active: true, suppressed: 1 });
    expect(messages('verification.corrupted')).toHaveLength(1);
    expect(messages('restore.completed', 'info')).toHaveLength(1);
    expect(messages('restore.failed', 'info')).toHaveLength(1);
  });

  it('a drill that restores something else than was backed up alerts drill.failed, with the difference', async () => {
    const b = await verifiedBackup();
    // The next verified backup ends the "corrupted" condition of the target.
    const [resolved] = await arrival('verification.corrupted', 'resolved');
    expected.push('verification.corrupted resolved app');
    expect(resolved).toMatchObject({ target: 'app', title: 'backups of "app" verify again', record: { type: 'backup', id: b.id } });
    expect(resolved.summary).toMatch(/was verified after 2 failure\(s\) since /);
    // The backup "remembers" other row counts than its dump holds: the drill restores 50 rows, expects 999.
    const ds = t.app.get<DataSource>(CATALOG_DATA_SOURCE, { strict: false });
    const [table] = Object.keys(b.metadata.tableRows);
    await ds.getRepository('BackupRecord').update(b.id, { metadata: { ...b.metadata, tableRows: { ...b.metadata.tableRows, [table]: 999 } } });
    await verify(b.id, true);
    const drilled = await reaches(b.id, 'CORRUPTED');
    const [msg] = await arrival('drill.failed');
    expected.push('drill.failed alert app');
    expect(msg).toMatchObject({ target: 'app', title: 'restore drill of "app" failed', error: drilled.errorMessage });
    expect(msg.error).toBe(`drill: the restored copy differs from the backup: table ${table} has 50 rows, 999 at backup time`);
    expect(msg.record).toEqual({ type: 'backup', id: b.id, url: `${PUBLIC_URL}/backups/${b.id}` });
    expect(msg.next).toMatch(/^Do not count on this backup\./);
    expect(messages('drill.failed')).toHaveLength(1);
    // A drill is not a plain verification: that condition is untouched.
    expect((await condition('verification.corrupted:app')).occurrences).toBe(2);
  });

  it('the daily digest lists per target the last good backup, sizes and failures, only to channels that asked for it', async () => {
    const gone = await backup('gone');
    expect(gone.status).toBe('FAILED');
    const list = (await api(t, 'GET', '/api/v1/backups?target=app&limit=100')).body.items as any[];
    const good = list.filter((r) => ['COMPLETED', 'VERIFIED'].includes(r.status));
    const broken = list.filter((r) => ['FAILED', 'CORRUPTED'].includes(r.status));
    expect([good.length, broken.length]).toEqual([3, 2]);
    const newest = good.sort((a, b) => Date.parse(b.completedAt) - Date.parse(a.completedAt))[0];
    // The latest failure is the drilled backup's (the flipped one failed before it), decided when
    // its drill ended: both can share one second of updatedAt, which SQLite keeps to the second.
    const decided = (r: any) => Date.parse(r.metadata.verification.at);
    const latest = broken.sort((a, b) => decided(b) - decided(a))[0];
    expect(latest.errorMessage).toMatch(/^drill: the restored copy differs/);
    // Touching the other failed backup afterwards (a pin here; retention writes expiry dates the
    // same way) moves its updatedAt past the drill's, and must not make it the latest failure.
    const other = broken.find((r) => r.id !== latest.id);
    const second = (iso: string) => Math.floor(Date.parse(iso) / 1000);
    await waitFor(async () => Math.floor(Date.now() / 1000) > second(latest.updatedAt), 'the clock to pass the second of the drill', 3_000, 50);
    expect((await api(t, 'POST', `/api/v1/backups/${other.id}/pin`)).status).toBe(200);

    await t.app.get(NotificationMonitor, { strict: false }).digest('daily');
    const [digest] = await arrival('digest.daily', 'info');
    expected.push('digest.daily info -');
    expect(digest.title).toBe('daily digest: 2 target(s), 3 failure(s)');
    expect(digest.lines).toEqual([
      `app: last good backup ${newest.completedAt} (${newest.sizeBytes} B); 3 completed (${good.reduce((a, r) => a + r.sizeBytes, 0)} B), 2 failed in the period, the latest at ${new Date(decided(latest)).toISOString()}: ${latest.errorMessage}`,
      `gone: last good backup none; 0 completed (0 B), 1 failed in the period, the latest at ${gone.completedAt}: ${gone.errorMessage}`,
    ]);
    expect(gone.errorMessage).toMatch(/does not exist/);
    expect(digest.next).toBe('Look at the failed backups (GET /api/v1/backups?status=FAILED, and ?status=CORRUPTED).');
    // Off by default: the channel that names no events got the alerts, never the digest.
    expect(messages('destination.failed', 'alert', '/defaults')).toHaveLength(1);
    expect(received('/defaults').filter((m) => m.event.startsWith('digest.'))).toEqual([]);
  });

  it('no worker while a job waits: one alert after the configured time, "resolved" when a worker takes jobs again', async () => {
    const worker = t.app.get(JobsWorker, { strict: false });
    await worker.beforeApplicationShutdown();
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
    expect(r.status).toBe(202);
    const [msg] = await arrival('worker.missing');
    expected.push('worker.missing alert -');
    expect(msg).toMatchObject({ title: 'no worker is running jobs', target: null });
    // Missing for at least WORKER_MISSING_MS (1.5 s, said as "2 s" or more) before it alerted.
    expect(msg.summary).toMatch(/^\d+ job\(s\) wait, and no worker has taken jobs from the queue for ([2-9]|\d\d+) s: backups, restores and verifications do not run\.$/);
    expect(Number(msg.facts['Jobs waiting'])).toBeGreaterThanOrEqual(1);
    expect(msg.next).toMatch(/^Start a worker/);
    await repeated('worker.missing', 3);
    expect(messages('worker.missing')).toHaveLength(1);
    expect((await api(t, 'GET', `/api/v1/backups/${r.body.id}`)).body.status).toBe('QUEUED');

    worker.onApplicationBootstrap();
    const [back] = await arrival('worker.missing', 'resolved');
    expected.push('worker.missing resolved -');
    expect(back.title).toBe('a worker is running jobs again');
    expect((await waitForBackup(t, r.body.id)).status).toMatch(/COMPLETED|VERIFIED/);
  });

  it('the receiver got exactly the messages above, each once', async () => {
    // Anything sent late (a repeat decided after a test moved on) would show here.
    await new Promise((r) => setTimeout(r, 1000));
    expect(received().map((m) => `${m.event} ${m.state} ${m.target ?? '-'}`).sort()).toEqual([...expected].sort());
  });
});
