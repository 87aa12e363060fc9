// @serial fault suite: kills, freezes and restarts processes and servers, and counts every dump client on the machine
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type mysql from 'mysql2/promise';
import type pg from 'pg';
import { JobsQueue } from '../../src/queue/jobs-queue.service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createMyDatabase, dropMyDatabase, myConnect, myQuery, myUrl } from '../support/mysql.js';
import { createPgDatabase, dropPgDatabase, pgClient, pgQuery } from '../support/pg.js';
import { freePort } from '../support/processes.js';
import { checkInvariants, client, sleep, type Client } from './support/faults.js';

const LOCK_WAIT_MS = 1500;

/** Tables held by another session, and database servers nobody answers on. */
describe('locked tables and unreachable databases', () => {
  let t: TestApp;
  let c: Client;
  let pgDb: string;
  let myDb: string;
  const open: Array<pg.Client | mysql.Connection> = [];

  beforeAll(async () => {
    pgDb = await createPgDatabase('locked');
    await pgQuery(pgDb, `CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a SELECT generate_series(1, 100); CREATE TABLE held (id int PRIMARY KEY); INSERT INTO held VALUES (1);`);
    myDb = await createMyDatabase('locked');
    await myQuery(myDb, ['CREATE TABLE a (id int PRIMARY KEY)', 'INSERT INTO a VALUES (1), (2)', 'CREATE TABLE held (id int PRIMARY KEY) ENGINE=InnoDB', 'INSERT INTO held VALUES (1)']);
    const closed = await freePort();
    t = await startTestApp({
      BACKUP_TARGET_PG_URL: `postgres://postgres@127.0.0.1:5432/${pgDb}`,
      BACKUP_TARGET_MY_URL: myUrl(myDb),
      BACKUP_TARGET_PGDOWN_URL: `postgres://postgres@127.0.0.1:${closed}/nowhere`,
      BACKUP_TARGET_MYDOWN_URL: `mysql://root@127.0.0.1:${closed}/nowhere`,
      DUMP_LOCK_WAIT_TIMEOUT_MS: String(LOCK_WAIT_MS),
      JOB_ATTEMPTS: '3',
    });
    c = client(t.url, t.env.JWT_SECRET);
  }, 120_000);

  afterAll(async () => {
    for (const o of open) await o.end().catch(() => undefined);
    await t?.close();
    if (pgDb) await dropPgDatabase(pgDb);
    if (myDb) await dropMyDatabase(myDb);
  });

  const backup = async (target: string) => {
    const r = await c.call('POST', '/api/v1/backups', { target });
    expect(r.status).toBe(202);
    return r.body.id as string;
  };

  it('PostgreSQL: a table under ACCESS EXCLUSIVE fails the backup fast with "lock", once, and the next one succeeds', async () => {
    const holder = pgClient(pgDb);
    open.push(holder);
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE held IN ACCESS EXCLUSIVE MODE');
    const t0 = Date.now();
    const failed = await c.waitDone(await backup('pg'), 60_000);
    const took = Date.now() - t0;
    expect(failed.status).toBe('FAILED');
    expect(failed.errorMessage).toMatch(/lock wait timeout/i);
    expect(failed.errorMessage).toMatch(/held/);
    expect(failed.attempts).toBe(1);
    expect(took).toBeLessThan(LOCK_WAIT_MS + 15_000);
    await sleep(1500);
    expect((await c.get(failed.id)).attempts).toBe(1);
    await holder.query('ROLLBACK');
    const ok = await c.waitDone(await backup('pg'));
    expect(['COMPLETED', 'VERIFIED']).toContain(ok.status);
  }, 120_000);

  for (const variant of ['LOCK TABLES held WRITE', 'an open transaction with an ALTER TABLE waiting behind it'] as const) {
    it(`MariaDB: ${variant} fails the backup fast with "lock wait timeout", once, and leaves no session waiting`, async () => {
      const holder = await myConnect(myDb);
      open.push(holder);
      let alter: mysql.Connection | undefined;
      let altered: Promise<unknown> | undefined;
      if (variant === 'LOCK TABLES held WRITE') {
        await holder.query('LOCK TABLES held WRITE');
      } else {
        await holder.query('START TRANSACTION');
        await holder.query('SELECT * FROM held');
        alter = await myConnect(myDb);
        open.push(alter);
        altered = alter.query('ALTER TABLE held ADD COLUMN extra int').catch((e: Error) => e);
        await sleep(300);
      }
      const t0 = Date.now();
      const failed = await c.waitDone(await backup('my'), 60_000);
      const took = Date.now() - t0;
      expect(failed.status).toBe('FAILED');
      expect(failed.errorMessage).toMatch(/lock wait timeout/i);
      expect(failed.errorMessage).toContain(`DUMP_LOCK_WAIT_TIMEOUT_MS is ${LOCK_WAIT_MS}`);
      expect(failed.attempts).toBe(1);
      expect(took).toBeLessThan(LOCK_WAIT_MS + 15_000);
      // The dump's session was killed, not left waiting on the server.
      const waiting = await myQuery(undefined, `SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE '%SQL_NO_CACHE%'`, [myDb]);
      expect(waiting).toEqual([]);
      if (variant === 'LOCK TABLES held WRITE') await holder.query('UNLOCK TABLES');
      else {
        await holder.query('COMMIT');
        await altered;
      }
      const ok = await c.waitDone(await backup('my'));
      expect(['COMPLETED', 'VERIFIED']).toContain(ok.status);
    }, 120_000);
  }

  for (const target of ['pgdown', 'mydown']) {
    it(`an unreachable ${target === 'pgdown' ? 'PostgreSQL' : 'MariaDB'} server: FAILED with "refused" after its limited attempts, then left alone`, async () => {
      const failed = await c.waitDone(await backup(target), 90_000);
      expect(failed.status).toBe('FAILED');
      expect(failed.errorMessage).toMatch(/ECONNREFUSED|refused|can't connect/i);
      expect(failed.attempts).toBe(3);
      await sleep(2000);
      const later = await c.get(failed.id);
      expect(later.status).toBe('FAILED');
      expect(later.attempts).toBe(3);
      const counts = await t.app.get(JobsQueue, { strict: false }).counts();
      expect(counts.waiting + counts.delayed + counts.active + counts.prioritized).toBe(0);
    }, 120_000);
  }

  it('leaves every record final and storage holding exactly the listed artifacts', async () => {
    for (const target of ['pg', 'my', 'pgdown', 'mydown']) await checkInvariants(c, t.env, target);
  });
});
