import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { BackupManagerModule, BackupsService, CATALOG_CONNECTION, RestoresService } from '../src/index.js';
import { dropQueueKeys, REDIS_URL } from './support/app.js';
import { CreateNotes1700000000000, Note } from './support/host/note.entity.js';
import { createMyDatabase, dropMyDatabase, MY } from './support/mysql.js';
import { createPgDatabase, dropPgDatabase, PG } from './support/pg.js';

/** The host's own `schedules` table, which the catalog's (`bm_schedules`) must not clash with. */
@Entity('schedules')
class HostSchedule {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 50 })
  title!: string;
}

type Engine = { name: string; type: 'postgres' | 'mysql'; create(): Promise<string>; drop(db: string): Promise<void>; server: { host: string; port: number; user: string } };

const engines: Engine[] = [
  { name: 'PostgreSQL', type: 'postgres', create: () => createPgDatabase('incat'), drop: dropPgDatabase, server: { ...PG, port: 5432 } },
  { name: 'MariaDB', type: 'mysql', create: () => createMyDatabase('incat'), drop: dropMyDatabase, server: MY },
];

/**
 * The README's headline setup: a host app whose own DataSource is both the backed-up target and
 * the catalog's home. A backup, a change, and an in-place restore of that database: the catalog
 * (in the same database) keeps every record, the run ends COMPLETED, and the backup stays as it was.
 */
describe.each(engines)('an in-place restore of the database that holds the catalog, on $name', (engine) => {
  let db: string;
  let app: INestApplicationContext;
  let dir: string;
  const queuePrefix = `bmtest-incat-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    db = await engine.create();
    dir = mkdtempSync(join(tmpdir(), 'bm-incat-'));
    @Module({
      imports: [
        EventEmitterModule.forRoot(),
        ScheduleModule.forRoot(),
        TypeOrmModule.forRoot({
          type: engine.type,
          host: engine.server.host,
          port: engine.server.port,
          username: engine.server.user,
          database: db,
          entities: [Note, HostSchedule],
          migrations: [CreateNotes1700000000000],
          migrationsRun: true,
          // The host keeps its schema in sync with its entities: the catalog's tables are not among them.
          synchronize: true,
          logging: false,
        }),
        BackupManagerModule.forRootAsync({
          inject: [DataSource],
          useFactory: (ds: DataSource) => ({
            targets: [{ name: 'app', dataSource: ds }],
            catalog: { dataSource: ds },
            redisUrl: REDIS_URL,
            queuePrefix,
            storageDir: join(dir, 'backups'),
            tempDir: join(dir, 'tmp'),
            workers: true,
          }),
          controllers: false,
        }),
      ],
    })
    class HostModule {}
    app = await NestFactory.createApplicationContext(HostModule, { logger: false });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await dropQueueKeys(queuePrefix);
    if (db) await engine.drop(db);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const catalog = () => app.get<DataSource>(getDataSourceToken(CATALOG_CONNECTION));
  const notes = async () => (await app.get(DataSource).getRepository(Note).find({ order: { text: 'ASC' } })).map((n) => n.text);

  async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const v = await read();
      if (done(v)) return v;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it("starts beside the host's own schedules table and leaves it alone", async () => {
    const hostDs = app.get(DataSource);
    await hostDs.getRepository(HostSchedule).save({ title: 'standup' });
    expect(await hostDs.query('SELECT title FROM schedules')).toEqual([{ title: 'standup' }]);
    const schedules = catalog().getRepository('Schedule');
    await schedules.insert({ id: '22222222-2222-4222-8222-222222222222', name: 'nightly', target: 'app', preset: 'daily', timezone: 'UTC', type: 'daily' });
    expect(await schedules.countBy({ name: 'nightly' })).toBe(1);
    // Neither the host's synchronize nor its migration generator would touch the catalog.
    expect((await hostDs.driver.createSchemaBuilder().log()).upQueries).toEqual([]);
  });

  it('keeps every catalog record, ends COMPLETED, and puts the application data back', async () => {
    const hostDs = app.get(DataSource);
    await hostDs.getRepository(Note).save([{ text: 'kept' }, { text: 'removed later' }]);
    // The catalog's tables are in the host's database, under their prefix.
    const backup = await app.get(BackupsService).request({ target: 'app', triggeredBy: 'test', description: 'before the change' });
    const records = catalog().getRepository('BackupRecord');
    const done = await until('backup', () => records.findOneByOrFail({ id: backup.id }), (r) => !['QUEUED', 'RUNNING'].includes(r.status as string));
    expect({ status: done.status, error: done.errorMessage }).toEqual({ status: expect.stringMatching(/^(COMPLETED|VERIFIED)$/), error: null });

    await hostDs.getRepository(Note).delete({ text: 'removed later' });
    await hostDs.getRepository(Note).save({ text: 'added after the backup' });
    const before = await records.find();

    const run = await app.get(RestoresService).request(backup.id, { confirm: true });
    const runs = catalog().getRepository('RestoreRun');
    const ended = await until('restore run', () => runs.findOneBy({ id: run.id }), (r) => !!r && !['QUEUED', 'RUNNING'].includes(r.status as string));
    expect({ status: ended!.status, error: ended!.errorMessage }).toEqual({ status: 'COMPLETED', error: null });

    // The application's data is the backup's; the catalog kept every record, the run's own too.
    expect(await notes()).toEqual(['kept', 'removed later']);
    const after = await records.find();
    expect(after.map((r) => r.id)).toEqual(expect.arrayContaining(before.map((r) => r.id)));
    expect(after.map((r) => r.id)).toContain(ended!.safetyBackupId);
    const restored = await records.findOneByOrFail({ id: backup.id });
    expect(restored.status).toMatch(/^(COMPLETED|VERIFIED)$/);
    expect(restored.description).toBe('before the change');
    expect(await runs.countBy({ id: run.id })).toBe(1);
    expect(await catalog().getRepository('Schedule').countBy({ name: 'nightly' })).toBe(1);
    expect(await hostDs.query('SELECT title FROM schedules')).toEqual([{ title: 'standup' }]);
    // Nothing of the catalog went into the artifact as application data.
    const counted = Object.keys((restored.metadata as { tableRows?: Record<string, number> }).tableRows ?? {});
    expect(counted).toContain('notes');
    expect(counted.filter((t) => t.includes('bm_'))).toEqual([]);
  }, 180_000);
});
