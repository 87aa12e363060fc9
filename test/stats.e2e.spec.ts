import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { api, waitForBackup } from './support/api.js';
import { startTestApp, type TestApp } from './support/app.js';
import { expectedStats, type StatsRow } from './support/expected-stats.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

const sqliteTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

describe('backup statistics', () => {
  let t: TestApp;
  let dbA: string;
  let dbB: string;
  const done: any[] = [];

  async function backup(target: string, compression = 'gzip') {
    const r = await api(t, 'POST', '/api/v1/backups', { body: { target, compression } });
    expect(r.status).toBe(202);
    const rec = await waitForBackup(t, r.body.id);
    done.push(rec);
    return rec;
  }

  beforeAll(async () => {
    dbA = await createPgDatabase('stats_a');
    dbB = await createPgDatabase('stats_b');
    for (const db of [dbA, dbB]) await pgQuery(db, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 2000) g`);
    t = await startTestApp({
      BACKUP_TARGET_A_URL: `postgres://postgres@127.0.0.1:5432/${dbA}`,
      BACKUP_TARGET_B_URL: `postgres://postgres@127.0.0.1:5432/${dbB}`,
      BACKUP_TARGET_GHOST_URL: 'postgres://nobody_here:pw@127.0.0.1:5432/no_such_db_bm',
    });
    await backup('a', 'gzip');
    await backup('a', 'none');
    await backup('b', 'zstd');
    await backup('ghost');
    await settle();
    // The SQLite catalog keeps createdAt to the second: spread the four over four days.
    const catalog = new Database(t.config.options.catalog.sqlitePath);
    try {
      done.forEach((d, i) => catalog.prepare('UPDATE bm_backup_records SET createdAt = ? WHERE id = ?').run(sqliteTime(new Date(Date.now() - (4 - i) * 86_400_000)), d.id));
    } finally {
      catalog.close();
    }
    for (let i = 0; i < done.length; i++) done[i] = (await api(t, 'GET', `/api/v1/backups/${done[i].id}`)).body;
  });

  /** Waits until background work (an automatic verification, say) stops changing the records. */
  async function settle(): Promise<void> {
    let last = '';
    let stable = 0;
    while (stable < 5) {
      await new Promise((r) => setTimeout(r, 400));
      const now = await Promise.all(done.map(async (d) => (await api(t, 'GET', `/api/v1/backups/${d.id}`)).body));
      const key = JSON.stringify(now.map((d) => [d.status, d.verifiedAt]));
      stable = key === last ? stable + 1 : 0;
      last = key;
      now.forEach((d, i) => (done[i] = d));
    }
  }

  afterAll(async () => {
    await t?.close();
    await dropPgDatabase(dbA);
    await dropPgDatabase(dbB);
  });

  it('matches what was created: counts, sizes, success rate, averages, oldest/newest/latest', async () => {
    const r = await api(t, 'GET', '/api/v1/backups/stats', { token: t.token('viewer') });
    expect(r.status).toBe(200);
    const good = done.filter((d) => ['COMPLETED', 'VERIFIED'].includes(d.status));
    expect(good).toHaveLength(3);
    const s = r.body;
    const byStatus: Record<string, number> = {};
    for (const d of done) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
    expect(s).toMatchObject({ total: 4, successful: 3, failed: 1, successRate: 0.75, byType: { manual: 4 }, byStatus });
    expect(s.totalSizeBytes).toBe(good.reduce((n, d) => n + d.sizeBytes, 0));
    const meanRatio = good.reduce((n, d) => n + d.compressionRatio, 0) / 3;
    expect(s.averageCompressionRatio).toBeCloseTo(meanRatio, 2);
    expect(s.averageDurationMs).toBeCloseTo(good.reduce((n, d) => n + d.durationMs, 0) / 3, -1);
    expect(s.oldest.id).toBe(done[0].id);
    expect(s.newest.id).toBe(done[2].id);
    expect(s.latest).toMatchObject({ id: done[3].id, status: 'FAILED', target: 'ghost' });
    const verified = done.filter((d) => d.verifiedAt);
    expect(s.verifications).toMatchObject({ total: verified.length, verified: verified.filter((d) => d.status === 'VERIFIED').length });
    // RestoreRun (issue 4) is counted once that entity is in the catalog.
    if (s.restores !== null) expect(typeof s.restores.total).toBe('number');
  });

  it('filters by target and date range', async () => {
    const a = (await api(t, 'GET', '/api/v1/backups/stats?target=a')).body;
    expect(a).toMatchObject({ total: 2, successful: 2, failed: 0, successRate: 1, filter: { target: 'a' } });
    expect(a.totalSizeBytes).toBe(done[0].sizeBytes + done[1].sizeBytes);
    expect(a.averageCompressionRatio).toBeCloseTo((done[0].compressionRatio + done[1].compressionRatio) / 2, 2);

    const future = new Date(Date.now() + 3600_000).toISOString();
    const none = (await api(t, 'GET', `/api/v1/backups/stats?from=${future}`)).body;
    expect(none).toMatchObject({ total: 0, successful: 0, successRate: null, totalSizeBytes: 0, averageDurationMs: null, latest: null });

    const upTo = new Date(new Date(done[2].createdAt).getTime() - 1).toISOString();
    const early = (await api(t, 'GET', `/api/v1/backups/stats?to=${upTo}`)).body;
    expect(early.total).toBe(2);
    const from = new Date(done[2].createdAt).toISOString();
    const late = (await api(t, 'GET', `/api/v1/backups/stats?from=${from}`)).body;
    expect(late).toMatchObject({ total: 2, successful: 1, failed: 1, successRate: 0.5 });

    expect((await api(t, 'GET', '/api/v1/backups/stats?from=notadate')).status).toBe(400);
    expect((await api(t, 'GET', '/api/v1/backups/stats?bogus=1')).status).toBe(400);
  });

  it('counts verifications and excludes corrupted and soft-deleted backups from the good ones', async () => {
    const catalog = new Database(t.config.options.catalog.sqlitePath);
    const when = new Date();
    try {
      catalog.prepare('UPDATE bm_backup_records SET status = ?, verifiedAt = ? WHERE id = ?').run('VERIFIED', sqliteTime(new Date(when.getTime() - 60_000)), done[0].id);
      catalog.prepare('UPDATE bm_backup_records SET status = ?, verifiedAt = ? WHERE id = ?').run('CORRUPTED', sqliteTime(when), done[1].id);
      catalog.prepare('UPDATE bm_backup_records SET status = ?, verifiedAt = NULL WHERE id = ?').run('COMPLETED', done[2].id);
    } finally {
      catalog.close();
    }
    const s = (await api(t, 'GET', '/api/v1/backups/stats')).body;
    expect(s).toMatchObject({ total: 4, successful: 2, failed: 1, successRate: 0.5, byStatus: { VERIFIED: 1, CORRUPTED: 1, COMPLETED: 1, FAILED: 1 } });
    expect(s.verifications).toMatchObject({ total: 2, verified: 1, corrupted: 1 });
    expect(Math.abs(new Date(s.verifications.lastVerifiedAt).getTime() - when.getTime())).toBeLessThan(5);
    expect(s.totalSizeBytes).toBe(done[0].sizeBytes + done[2].sizeBytes);

    expect((await api(t, 'DELETE', `/api/v1/backups/${done[2].id}`)).status).toBe(200);
    const after = (await api(t, 'GET', '/api/v1/backups/stats')).body;
    expect(after).toMatchObject({ total: 3, successful: 1 });
    expect(after.newest.id).toBe(done[0].id);
  });

  it('equals a count of the catalog after changes of status, size and verification, soft and hard deletes and undeletes', async () => {
    const catalog = new Database(t.config.options.catalog.sqlitePath);
    const fromText = (v: string | null) => (v === null ? null : new Date(`${v.replace(' ', 'T')}Z`));
    /** The live records, read from the catalog file. */
    const live = (): StatsRow[] =>
      (catalog.prepare('SELECT id, target, type, status, sizeBytes, compressionRatio, durationMs, verifiedAt, createdAt FROM bm_backup_records WHERE deletedAt IS NULL').all() as any[]).map((r) => ({
        ...r,
        verifiedAt: fromText(r.verifiedAt),
        createdAt: fromText(r.createdAt),
      }));
    const check = async () => {
      for (const target of [undefined, 'a', 'b', 'ghost']) {
        const rs = live().filter((r) => !target || r.target === target);
        const { body } = await api(t, 'GET', `/api/v1/backups/stats${target ? `?target=${target}` : ''}`);
        const { newest, oldest, latest, ...counts } = expectedStats(rs);
        const { filter: _filter, restores: _restores, newest: n, oldest: o, latest: l, ...got } = body;
        expect({ target, ...got }).toEqual({ target, ...counts });
        expect([n?.id ?? null, o?.id ?? null, l?.id ?? null]).toEqual([newest, oldest, latest]);
      }
    };
    try {
      await check();
      // Undelete (the previous test soft-deleted done[2]), a hard delete, and changes to what is summed.
      catalog.prepare('UPDATE bm_backup_records SET deletedAt = NULL WHERE id = ?').run(done[2].id);
      await check();
      catalog.prepare('UPDATE bm_backup_records SET sizeBytes = sizeBytes + 1000, compressionRatio = 7.25, durationMs = NULL WHERE id = ?').run(done[0].id);
      catalog.prepare('UPDATE bm_backup_records SET status = ?, target = ? WHERE id = ?').run('FAILED', 'b', done[1].id);
      await check();
      catalog.prepare('DELETE FROM bm_backup_records WHERE id = ?').run(done[3].id);
      expect((await api(t, 'DELETE', `/api/v1/backups/${done[0].id}`)).status).toBe(200);
      await check();
      expect(live().map((r) => r.id).sort()).toEqual([done[1].id, done[2].id].sort());
    } finally {
      catalog.close();
    }
  });

  it('keeps GET /backups/:id working and documents the route', async () => {
    expect((await api(t, 'GET', `/api/v1/backups/${done[0].id}`)).body.id).toBe(done[0].id);
    const doc = await api(t, 'GET', '/docs-json', { token: null });
    expect(doc.body.paths['/api/v1/backups/stats'].get).toBeDefined();
  });

  it('documents both stats responses with their own schemas (no name shared by two shapes)', async () => {
    const doc = (await api(t, 'GET', '/docs-json', { token: null })).body;
    const schemaOf = (path: string) => doc.paths[path].get.responses['200'].content['application/json'].schema.$ref.split('/').pop();
    const backupStats = doc.components.schemas[schemaOf('/api/v1/backups/stats')];
    const restoreCounts = doc.components.schemas[backupStats.properties.restores.allOf?.[0]?.$ref?.split('/').pop() ?? backupStats.properties.restores.$ref.split('/').pop()];
    expect(Object.keys(restoreCounts.properties).sort()).toEqual(['byStatus', 'total']);
    const restoreStats = doc.components.schemas[schemaOf('/api/v1/restores/stats')];
    expect(Object.keys(restoreStats.properties)).toEqual(expect.arrayContaining(['restores', 'verifications']));
  });
});
