// @serial fault suite: kills, freezes and restarts processes and servers, and counts every dump client on the machine
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from '../support/pg.js';
import { checkInvariants, client, entriesUnder, filesUnder, type Client } from './support/faults.js';

/**
 * The storage directory lives on a 4 MB tmpfs (a real filesystem that really fills up: the
 * kernel returns ENOSPC to write(2)). A test-owned filler file takes most of it.
 */
describe('disk full while writing a backup', () => {
  let mnt: string;
  let mounted = false;
  let t: TestApp;
  let c: Client;
  let smallDb: string;
  let bigDb: string;

  beforeAll(async () => {
    mnt = mkdtempSync(join(tmpdir(), 'bm-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mnt]);
    mounted = true;
    smallDb = await createPgDatabase('full_small');
    await pgQuery(smallDb, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g;`);
    bigDb = await createPgDatabase('full_big');
    // Random hex compresses about 2:1: ~5 MB of dump becomes ~2.5 MB of zstd, more than is left.
    await pgQuery(bigDb, `CREATE TABLE r (id int PRIMARY KEY, v text); INSERT INTO r SELECT g, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) FROM generate_series(1, 36000) g;`);
    t = await startTestApp({
      STORAGE_DIR: join(mnt, 'backups'),
      BACKUP_TARGET_SMALL_URL: `postgres://postgres@127.0.0.1:5432/${smallDb}`,
      BACKUP_TARGET_BIG_URL: `postgres://postgres@127.0.0.1:5432/${bigDb}`,
      JOB_ATTEMPTS: '2',
      HEALTH_MIN_FREE_MB: '0',
    });
    c = client(t.url, t.env.JWT_SECRET);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    if (mounted) execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
    if (smallDb) await dropPgDatabase(smallDb);
    if (bigDb) await dropPgDatabase(bigDb);
  });

  it('fails with "no space", leaves no partial file, keeps older backups verifiable, and succeeds once space is freed', async () => {
    const old = await c.waitUntil((await c.call('POST', '/api/v1/backups', { target: 'small' })).body.id, (b) => b.status === 'VERIFIED', 'VERIFIED');

    // Leave about 600 KB free.
    const fs = statfsSync(mnt);
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 600 * 1024)));

    const r = await c.call('POST', '/api/v1/backups', { target: 'big' });
    expect(r.status).toBe(202);
    const failed = await c.waitDone(r.body.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.errorMessage).toMatch(/no space left on the backup storage/);
    expect(failed.errorMessage).toContain('ENOSPC');
    expect(failed.attempts).toBe(2);
    expect(failed.fileKey).toBeNull();
    expect(filesUnder(join(mnt, 'backups')).filter((f) => f.endsWith('.partial'))).toEqual([]);
    expect(entriesUnder(join(t.dataDir, 'tmp'))).toEqual([]);

    // The older backup still verifies on the full disk.
    const before = old.metadata.verification.at;
    expect((await c.call('POST', `/api/v1/backups/${old.id}/verify`, {})).status).toBe(202);
    const again = await c.waitUntil(old.id, (b) => b.metadata?.verification?.at !== before, 'a new verification');
    expect(again.status).toBe('VERIFIED');
    expect(again.metadata.verification.ok).toBe(true);

    // Space freed: the same backup succeeds.
    rmSync(filler);
    const next = await c.waitUntil((await c.call('POST', '/api/v1/backups', { target: 'big' })).body.id, (b) => !['QUEUED', 'RUNNING', 'COMPLETED'].includes(b.status), 'the end');
    expect(next.status).toBe('VERIFIED');
    expect(next.attempts).toBe(1);
    await checkInvariants(c, t.env, 'small');
    const big = await checkInvariants(c, t.env, 'big');
    expect(big.ok.map((b) => b.id)).toEqual([next.id]);
    expect(big.failed.map((b) => b.id)).toEqual([failed.id]);
  }, 180_000);
});
