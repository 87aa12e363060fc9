import { describe, expect, it } from '@jest/globals';
import { classifyPgError, pgErrorRetryable } from './errors.js';

const place = { host: 'db', port: 5432, database: 'shop' };

describe('the PostgreSQL error classifier', () => {
  it.each([
    ['28P01', 'password authentication failed for user "bm"'],
    ['28000', 'role "nobody" does not exist'],
    ['3D000', 'database "gone" does not exist'],
    ['42501', 'permission denied for table orders'],
    ['42P01', 'relation "orders" does not exist'],
    ['42P04', 'database "bm_x" already exists'],
    ['42601', 'syntax error at or near "x"'],
    ['55P03', 'canceling statement due to lock timeout'],
  ])('gives up on SQLSTATE %s (%s), whatever the text', (code, message) => {
    expect(classifyPgError({ message, code }, place).retryable).toBe(false);
    expect(pgErrorRetryable('some other words', code)).toBe(false);
  });

  it.each([
    ['57P01', 'terminating connection due to administrator command'],
    ['40P01', 'deadlock detected'],
    ['40001', 'could not serialize access due to concurrent update'],
    ['53300', 'sorry, too many clients already'],
    ['08006', 'connection failure'],
  ])('retries SQLSTATE %s (%s)', (code, message) => {
    expect(classifyPgError({ message, code }, place).retryable).toBe(true);
  });

  it('retries what the driver reports without a SQLSTATE: refused or reset connections, timeouts', () => {
    expect(classifyPgError({ message: 'connect ECONNREFUSED 127.0.0.1:5432', code: 'ECONNREFUSED' }, place).retryable).toBe(true);
    expect(classifyPgError(new Error('Connection terminated unexpectedly'), place).retryable).toBe(true);
    expect(classifyPgError(new Error('timeout expired'), place).retryable).toBe(true);
  });

  it.each([
    'pg_dump: error: connection to server at "db" (10.0.0.1), port 5432 failed: FATAL:  password authentication failed for user "bm"',
    'pg_dump: error: connection to server failed: fe_sendauth: no password supplied',
    'pg_dump: error: connection to server failed: FATAL:  no pg_hba.conf entry for host "10.0.0.2"',
    'pg_dump: error: connection to server failed: FATAL:  database "gone" does not exist',
    'pg_dump: error: query failed: ERROR:  permission denied for table secrets',
    'pg_dump: error: aborting because of server version mismatch',
    'pg_dump: error: query failed: ERROR:  could not obtain lock on relation "orders"',
  ])('gives up on a client that printed %j', (stderr) => {
    expect(classifyPgError(stderr, place, 1).retryable).toBe(false);
  });

  it('retries a client that lost its connection', () => {
    const e = classifyPgError('pg_dump: error: Dumping the contents of table "orders" failed: PQgetResult() failed.\nserver closed the connection unexpectedly', place, 1);
    expect(e.retryable).toBe(true);
  });

  it("names pg_dump's lock wait timeout and gives up on it", () => {
    const e = classifyPgError('pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\npg_dump: detail: Query was: LOCK TABLE public.orders IN ACCESS SHARE MODE', place, 1);
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/^PostgreSQL db:5432\/shop: lock wait timeout: pg_dump could not lock table public\.orders within DUMP_LOCK_WAIT_TIMEOUT_MS/);
  });

  it('names the place and the exit code when the client printed nothing', () => {
    expect(classifyPgError('', place, 3).message).toBe('PostgreSQL db:5432/shop: pg_dump exited with code 3');
  });
});
