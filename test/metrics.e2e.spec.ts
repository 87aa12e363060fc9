import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { register as globalRegistry } from 'prom-client';
import { api, waitForBackup } from './support/api.js';
import { setQueuePaused, startTestApp, type TestApp } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';

/** The value of one sample line, e.g. `name{a="b"} 3`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels);
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (want.every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

describe('Prometheus metrics', () => {
  let t: TestApp;
  let db: string;
  const done: any[] = [];

  beforeAll(async () => {
    db = await createPgDatabase('metrics');
    await pgQuery(db, 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g');
    t = await startTestApp({
      BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      BACKUP_TARGET_GHOST_URL: 'postgres://nobody_here:pw@127.0.0.1:5432/no_such_db_bm',
    });
    for (const target of ['app', 'app', 'ghost']) {
      const r = await api(t, 'POST', '/api/v1/backups', { body: { target } });
      done.push(await waitForBackup(t, r.body.id));
    }
    await new Promise((r) => setTimeout(r, 1000)); // a follow-up verification, if any, settles
  });

  afterAll(async () => {
    await t?.close();
    await dropPgDatabase(db);
  });

  it('serves the Prometheus text format at /metrics without a token, outside the api prefix', async () => {
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('# HELP backup_manager_backups ');
    expect(text).toContain('# TYPE backup_manager_backup_duration_seconds histogram');
    expect(sample(text, 'backup_manager_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect((await fetch(`${t.url}/api/v1/metrics`)).status).toBe(404);
  });

  it('reports backups by outcome, durations, sizes, last success per target and queue depth', async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const records = await Promise.all(done.map(async (d) => (await api(t, 'GET', `/api/v1/backups/${d.id}`)).body));
    const good = records.filter((r) => ['COMPLETED', 'VERIFIED'].includes(r.status));
    expect(good).toHaveLength(2);
    const goodByStatus = (s: string) => good.filter((r) => r.status === s).length;
    expect((sample(text, 'backup_manager_backups', { target: 'app', status: 'COMPLETED' }) ?? 0) + (sample(text, 'backup_manager_backups', { target: 'app', status: 'VERIFIED' }) ?? 0)).toBe(2);
    if (goodByStatus('COMPLETED')) expect(sample(text, 'backup_manager_backups', { target: 'app', status: 'COMPLETED' })).toBe(goodByStatus('COMPLETED'));
    expect(sample(text, 'backup_manager_backups', { target: 'ghost', status: 'FAILED' })).toBe(1);

    expect(sample(text, 'backup_manager_backup_runs_total', { target: 'app', outcome: 'completed' })).toBe(2);
    expect(sample(text, 'backup_manager_backup_runs_total', { target: 'ghost', outcome: 'failed' })).toBe(1);
    expect(sample(text, 'backup_manager_backup_duration_seconds_count', { target: 'app' })).toBe(2);
    expect(sample(text, 'backup_manager_backup_duration_seconds_sum', { target: 'app' })).toBeCloseTo((good[0].durationMs + good[1].durationMs) / 1000, 3);
    expect(sample(text, 'backup_manager_backup_size_bytes_sum', { target: 'app' })).toBe(good[0].sizeBytes + good[1].sizeBytes);

    const newest = good[1];
    expect(sample(text, 'backup_manager_last_success_timestamp_seconds', { target: 'app' })).toBeCloseTo(new Date(newest.completedAt).getTime() / 1000, 2);
    expect(sample(text, 'backup_manager_last_success_size_bytes', { target: 'app' })).toBe(newest.sizeBytes);
    expect(sample(text, 'backup_manager_last_success_timestamp_seconds', { target: 'ghost' })).toBeUndefined();

    expect(sample(text, 'backup_manager_queue_jobs', { state: 'waiting' })).toBe(0);
    expect(sample(text, 'backup_manager_queue_jobs', { state: 'completed' })).toBeGreaterThanOrEqual(2);
  });

  it('counts a queued job in the queue depth', async () => {
    await setQueuePaused(t.config.options.queuePrefix, true);
    try {
      const r = await api(t, 'POST', '/api/v1/backups', { body: { target: 'app' } });
      expect(r.status).toBe(202);
      const text = await (await fetch(`${t.url}/metrics`)).text();
      expect((sample(text, 'backup_manager_queue_jobs', { state: 'waiting' }) ?? 0) + (sample(text, 'backup_manager_queue_jobs', { state: 'paused' }) ?? 0)).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'backup_manager_backups', { target: 'app', status: 'QUEUED' })).toBe(1);
    } finally {
      await setQueuePaused(t.config.options.queuePrefix, false);
    }
  });

  it('leaves the prom-client default registry alone', async () => {
    expect(await globalRegistry.getSingleMetricAsString('backup_manager_backups').catch(() => undefined)).toBeUndefined();
    expect(globalRegistry.getMetricsAsArray().filter((m) => String((m as any).name).startsWith('backup_manager_'))).toHaveLength(0);
  });
});
