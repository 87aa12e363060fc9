import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { signToken } from '../src/auth/token-verifier.js';
import { Role } from '../src/auth/roles.js';
import { bytesReadBy } from '../src/codecs/compression.js';
import { formatBytes } from '../src/common/format.js';
import { pgMajorOf } from '../src/common/executables.js';
import { dropQueueKeys, testEnv, waitFor } from './support/app.js';
import { createPgDatabase, dropPgDatabase, pgQuery } from './support/pg.js';
import { childrenRunning, exeOf, freePort, pollFor, ROOT, startProcess, waitForHttp, type Proc } from './support/processes.js';

/**
 * Progress of a backup that takes a while, through the direct path (`pg_dump | zstd > file`, no
 * dump byte through the service): the dump is paused (SIGSTOP) once data flows, so it takes as
 * long as the checks need, then resumed. While it runs, the record, the logs and the CLI's bar
 * all count the dump's raw bytes against the database size.
 */
describe('progress of a running backup', () => {
  let db: string;
  let env: Record<string, string>;
  let service: Proc;
  let base: string;
  let token: string;

  beforeAll(async () => {
    db = await createPgDatabase('progress');
    // ~60 MB of dump: enough to be caught mid-stream many times over.
    await pgQuery(db, `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 600000) g;`);
    const port = await freePort();
    env = testEnv({ PORT: String(port), BACKUP_TARGET_APP_URL: `postgres://postgres@127.0.0.1:5432/${db}`, LOG_LEVEL: 'debug', JOB_ATTEMPTS: '1' });
    base = `http://127.0.0.1:${port}`;
    token = signToken(env.JWT_SECRET, { sub: 'progress', role: Role.Admin }, { expiresIn: '1h' });
    service = startProcess('main', env);
    await waitForHttp(`${base}/health/live`);
  }, 120_000);

  afterAll(async () => {
    service?.child.kill('SIGKILL');
    await dropQueueKeys(env.QUEUE_PREFIX);
    rmSync(env.DATA_DIR, { recursive: true, force: true });
    await dropPgDatabase(db);
  });

  const get = async (path: string) => (await (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as any;

  /** The service's event stream (`GET /api/v1/events`, what the dashboard listens to), collected until aborted. */
  function listen(): { events: Array<{ event: string; data: any }>; stop: () => void } {
    const events: Array<{ event: string; data: any }> = [];
    const abort = new AbortController();
    void (async () => {
      const res = await fetch(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
      }
    })().catch(() => undefined);
    return { events, stop: () => abort.abort() };
  }

  it('shows raw bytes against the database size, rate and ETA on the record, in the logs, in the CLI and on the event stream', async () => {
    const stream = listen();
    // The CLI as a user runs it: enqueue and wait; its progress lines go to stderr (no TTY).
    const cli = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'backup', 'create', '--target', 'app', '--wait'], {
      env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let cliErr = '';
    cli.stderr.on('data', (d) => (cliErr += d));
    const cliExit = new Promise<number | null>((r) => cli.once('close', (code) => r(code)));
    let paused: number | undefined;
    try {
      // Catch the dump while data flows (zstd has read some of it) and pause pg_dump there.
      const [dump, zstd] = await pollFor(
        () => {
          const d = childrenRunning(service.child.pid!, 'pg_dump')[0];
          const z = childrenRunning(service.child.pid!, 'zstd')[0];
          return d !== undefined && z !== undefined && (bytesReadBy(z) ?? 0) >= 4 * 2 ** 20 && ([d, z] as const);
        },
        'pg_dump to stream into zstd',
        60_000,
        2,
      );
      process.kill(dump, 'SIGSTOP');
      paused = dump;
      const serverMajor = pgMajorOf(Number((await pgQuery(db, `SELECT current_setting('server_version_num') AS v`))[0].v));
      expect(exeOf(dump)).toMatch(new RegExp(`/${serverMajor}/bin/pg_dump$`)); // the client of the server's major
      expect(exeOf(zstd)).toMatch(/zstd$/);

      const id = (await waitFor(async () => (await get('/api/v1/backups?target=app')).items?.[0]?.id, 'the backup record', 30_000)) as string;
      // With pg_dump paused, the recorded progress settles: wait until two writes agree on the bytes.
      let seen: any;
      const p = await waitFor(
        async () => {
          const r = await get(`/api/v1/backups/${id}`);
          expect(r.status).toBe('RUNNING');
          const now = r.metadata?.progress;
          const stable = now && seen && now.updatedAt !== seen.updatedAt && now.rawBytes === seen.rawBytes && now.rawBytes > 0 && now;
          seen = now;
          return stable;
        },
        'the recorded progress to settle',
        30_000,
        250,
      );
      expect(p.rawBytes).toBeGreaterThanOrEqual(4 * 2 ** 20);
      expect(p.estimateBytes).toBeGreaterThan(p.rawBytes);
      expect(p.percent).toBe(Math.floor((p.rawBytes / p.estimateBytes) * 100));
      expect(p.bytesPerSecond).toBeGreaterThan(0);
      expect(p.etaSeconds).toBe(Math.ceil((p.estimateBytes - p.rawBytes) / p.bytesPerSecond));
      // Raw bytes, not the compressed ones. The artifact so far is smaller, possibly still empty:
      // zstd compresses in jobs of several MB before it writes.
      expect(p.artifactBytes).toBeLessThan(p.rawBytes);

      // The event stream pushes the same figures (the dashboard's live progress).
      const pushed = await waitFor(
        async () => stream.events.find((e) => e.event === 'progress' && e.data.id === id && e.data.progress?.rawBytes === p.rawBytes),
        'the settled progress on the event stream',
        10_000,
      );
      expect(pushed.data).toMatchObject({ target: 'app', status: 'RUNNING', progress: { estimateBytes: p.estimateBytes, bytesPerSecond: expect.any(Number), etaSeconds: expect.any(Number) } });

      // The service's log: a line every second at debug, and every 5 s at info.
      const logged = () =>
        service
          .output()
          .split('\n')
          .filter((l) => l.includes('"backup progress: ') && l.includes(id))
          .map((l) => JSON.parse(l) as { level: number; msg: string; rawBytes: number });
      await waitFor(async () => logged().some((l) => l.level === 30) && logged().some((l) => l.level === 20), 'progress lines at info and debug', 30_000);
      const info = logged().find((l) => l.level === 30)!;
      expect(info.msg).toMatch(/^backup progress: \d+% [\d.]+ [kMG]?B of ~[\d.]+ [kMG]?B dumped \([\d.]+ [kMG]?B written\), [\d.]+ [kMG]?B\/s(, ETA \d+ s)?$/);

      // The CLI's bar: the same raw bytes against the same database size.
      const shown = `${p.percent}%  ${formatBytes(p.rawBytes)} / ~${formatBytes(p.estimateBytes)}`;
      await waitFor(async () => cliErr.includes(shown), `the CLI to show "${shown}" (it shows:\n${cliErr})`, 30_000);

      process.kill(dump, 'SIGCONT');
      paused = undefined;
      expect(await cliExit).toBe(0);
      const done = await get(`/api/v1/backups/${id}`);
      expect(['COMPLETED', 'VERIFIED']).toContain(done.status);
      expect(done.rawBytes).toBeGreaterThan(p.rawBytes);
      expect(done.databaseSizeBytes).toBe(p.estimateBytes);
      expect(done.metadata.progress).toBeUndefined();
      // ... and the status changes as they happen, up to the verification.
      await waitFor(async () => stream.events.some((e) => e.event === 'backup' && e.data.backup.id === id && e.data.backup.status === 'VERIFIED'), 'VERIFIED on the event stream', 30_000);
      const statuses = stream.events.filter((e) => e.event === 'backup' && e.data.backup.id === id).map((e) => e.data.backup.status);
      expect(statuses).toEqual(expect.arrayContaining(['RUNNING', 'COMPLETED', 'VERIFIED']));
    } finally {
      stream.stop();
      if (paused) process.kill(paused, 'SIGCONT');
      cli.kill('SIGKILL');
    }
  }, 180_000);
});
