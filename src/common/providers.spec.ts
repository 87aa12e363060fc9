import { describe, expect, it } from '@jest/globals';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { tmpdir } from 'node:os';
import { MemoryRedis } from '../queue/memory-redis.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { EnginesModule } from '../engines/engines.module.js';
import { MysqlRestorer } from '../engines/mysql/mysql.restorer.js';
import { PostgresRestorer } from '../engines/postgres/postgres.restorer.js';
import { Restorers } from '../engines/restorers.js';
import { ArtifactLoader } from '../restore/artifact-loader.js';
import { EncryptionKeys } from '../codecs/encryption-keys.js';
import { ARTIFACT_STORAGE } from '../storage/storage.interface.js';
import type { BackupRecord } from '../backup/entities/backup-record.entity.js';
import { REDIS, RedisConnections, redisProviders } from './redis.js';
import { TargetLock, TargetLockBusyError } from './target-lock.js';

const options = {
  tempDir: tmpdir(),
  queuePrefix: 'bm-unit',
  // Nothing listens there: a test that reached Redis would fail, not pass by luck.
  redisUrl: 'redis://127.0.0.1:1',
  queue: { lockDurationMs: 60_000 },
  dump: { timeoutMs: 1000, lockWaitTimeoutMs: 1000 },
  catalog: { type: 'sqlite', path: ':memory:' },
} as unknown as BackupManagerOptions;

@Global()
@Module({ providers: [{ provide: BACKUP_MANAGER_OPTIONS, useValue: options }], exports: [BACKUP_MANAGER_OPTIONS] })
class OptionsModule {}

describe('the collaborators are providers a test module can replace', () => {
  it('Restorers serves the restorer put in place of the PostgreSQL one, and the real MySQL one', async () => {
    const fake = { kind: 'postgres' as const };
    const app = await Test.createTestingModule({ imports: [OptionsModule, EnginesModule] })
      .overrideProvider(PostgresRestorer)
      .useValue(fake)
      .compile();
    const restorers = app.get(Restorers);
    expect(restorers.for('postgres')).toBe(fake);
    expect(restorers.for('mysql')).toBeInstanceOf(MysqlRestorer);
    await app.close();
  });

  it('TargetLock runs on the Redis put in place of the shared connection, without connecting to Redis', async () => {
    const app = await Test.createTestingModule({ imports: [OptionsModule], providers: redisProviders })
      .overrideProvider(REDIS)
      .useValue(new MemoryRedis())
      .compile();
    const locks = app.get(TargetLock);
    const held = await locks.acquire('postgres|h|5432|db', 'backup:1', { waitMs: 0 });
    await expect(locks.acquire('postgres|h|5432|db', 'restore:2', { waitMs: 0 })).rejects.toThrow(TargetLockBusyError);
    expect(await locks.holder('postgres|h|5432|db')).toBe('backup:1');
    await held.release();
    expect(await locks.holder('postgres|h|5432|db')).toBeUndefined();
    // The provider of real clients was never asked for one.
    expect((app.get(RedisConnections) as unknown as { main?: unknown }).main).toBeUndefined();
    await app.close();
  });

  it('ArtifactLoader reads through the storage put in its place', async () => {
    const asked: string[] = [];
    const storage = {
      stat: async (key: string) => {
        asked.push(key);
        return null;
      },
    };
    const app = await Test.createTestingModule({ imports: [OptionsModule, EnginesModule], providers: [ArtifactLoader, EncryptionKeys, { provide: ARTIFACT_STORAGE, useValue: {} }] })
      .overrideProvider(ARTIFACT_STORAGE)
      .useValue(storage)
      .compile();
    const check = await app.get(ArtifactLoader).check({ fileKey: 'app/a.sql.zst', checksum: 'ab' } as BackupRecord);
    expect(check).toEqual({ ok: false, reason: 'the artifact app/a.sql.zst is missing from storage' });
    expect(asked).toEqual(['app/a.sql.zst']);
    await app.close();
  });
});
