import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, type INestApplicationContext, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupManagerModule, BackupsService } from '../src/index.js';
import { dropQueueKeys, REDIS_URL, waitFor } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

/** A host's logger: what each call received (message, then the optional parameters Nest passes). */
class HostLogger implements LoggerService {
  readonly calls: Array<{ level: string; message: unknown; params: unknown[] }> = [];
  log(message: unknown, ...params: unknown[]) {
    this.calls.push({ level: 'log', message, params });
  }
  warn(message: unknown, ...params: unknown[]) {
    this.calls.push({ level: 'warn', message, params });
  }
  error(message: unknown, ...params: unknown[]) {
    this.calls.push({ level: 'error', message, params });
  }
  debug(message: unknown, ...params: unknown[]) {
    this.calls.push({ level: 'debug', message, params });
  }
  verbose(message: unknown, ...params: unknown[]) {
    this.calls.push({ level: 'verbose', message, params });
  }
}

/** Issue 13 item 10: the library's log lines reach a host's own logger as messages with a context. */
describe("the library's logs in a host", () => {
  const logger = new HostLogger();
  const queuePrefix = `bmtest-logs-${randomBytes(4).toString('hex')}`;
  let dataDir: string;
  let db: string;
  let app: INestApplicationContext;

  beforeAll(async () => {
    db = await createPgDatabase('logs');
    await pgQuery(db, 'CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g');
    dataDir = mkdtempSync(join(tmpdir(), 'bm-logs-'));
    @Module({
      imports: [
        EventEmitterModule.forRoot(),
        BackupManagerModule.forRoot({
          targets: [{ name: 'app', engine: 'postgres', host: '127.0.0.1', port: 5432, user: 'postgres', database: db }],
          catalog: { sqlitePath: join(dataDir, 'catalog.sqlite') },
          redisUrl: REDIS_URL,
          queuePrefix,
          storageDir: join(dataDir, 'backups'),
          tempDir: join(dataDir, 'tmp'),
          workers: true,
          controllers: false,
        }),
      ],
    })
    class HostModule {}
    app = await NestFactory.createApplicationContext(HostModule, { logger });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await dropQueueKeys(queuePrefix);
    if (db) await dropPgDatabase(db);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('a backup logs one-line strings, each with the class as its context', async () => {
    const record = await app.get(BackupsService).request({ target: 'app' });
    const line = (start: string) => logger.calls.find((c) => typeof c.message === 'string' && c.message.startsWith(start));
    const done = await waitFor(async () => line('backup completed'), 'the "backup completed" line', 60_000);
    expect(done.message).toMatch(new RegExp(`^backup completed \\(id=${record.id}, target=app, file=\\S+, sizeBytes=\\d+`));
    expect(done.params).toEqual(['BackupRunner']);
    expect(line('backup started')?.params).toEqual(['BackupRunner']);
    // Nothing the library logged is an object (a host's console logger prints those as multi-line dumps).
    expect(logger.calls.filter((c) => typeof c.message !== 'string').map((c) => c.params.at(-1))).toEqual([]);
  }, 90_000);
});
