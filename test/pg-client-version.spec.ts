import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessRunner } from '../src/common/process-runner.js';
import { installedPgMajors, pgClientFor, PgClientMissingError, pgMajorOf } from '../src/common/executables.js';
import type { BackupManagerOptions } from '../src/config/options.js';
import { PostgresEngine } from '../src/engines/postgres/postgres.engine.js';
import type { ResolvedTarget } from '../src/targets/targets.service.js';
import { PG, pgQuery } from './support/pg.js';

/** The absolute path of a program on PATH. */
function onPath(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      /* not here */
    }
  }
  throw new Error(`${name} is not on PATH`);
}

/** A Debian-style layout `<root>/<major>/bin/<tool>` with the given majors. */
function layout(majors: string[], tool = 'pg_dump'): string {
  const root = mkdtempSync(join(tmpdir(), 'bm-pgroot-'));
  for (const m of majors) {
    mkdirSync(join(root, m, 'bin'), { recursive: true });
    writeFileSync(join(root, m, 'bin', tool), '');
    chmodSync(join(root, m, 'bin', tool), 0o755);
  }
  return root;
}

const roots: string[] = [];
const made = (majors: string[], tool?: string) => {
  const r = layout(majors, tool);
  roots.push(r);
  return r;
};
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

describe('choosing the PostgreSQL client per server version', () => {
  it('reads the server major from server_version_num', () => {
    expect([pgMajorOf(160004), pgMajorOf(150020), pgMajorOf(100023), pgMajorOf(90624)]).toEqual([16, 15, 10, 9.6]);
  });

  it('takes the lowest installed major not older than the server', async () => {
    const root = made(['13', '15', '16', '17', '9.6']);
    expect(installedPgMajors('pg_dump', root)).toEqual([9.6, 13, 15, 16, 17]);
    expect(await pgClientFor('pg_dump', 15, { root, path: '' })).toEqual({ path: join(root, '15', 'bin', 'pg_dump'), major: 15 });
    expect(await pgClientFor('pg_dump', 14, { root, path: '' })).toEqual({ path: join(root, '15', 'bin', 'pg_dump'), major: 15 });
    expect((await pgClientFor('pg_dump', 9.6, { root, path: '' })).major).toBe(9.6);
    // A directory without that program does not count.
    expect((await pgClientFor('pg_restore', 12, { root: made(['12', '16'], 'pg_restore'), path: '' })).major).toBe(12);
  });

  it('falls back to the program on PATH when its version fits, and says what to install when nothing does', async () => {
    const old = made(['13', '14']);
    // PATH holds this machine's real pg_dump: it fits a server of its own major.
    const real = execFileSync('pg_dump', ['--version'], { encoding: 'utf8' });
    const major = Number(/\) (\d+)/.exec(real)![1]);
    expect(await pgClientFor('pg_dump', major, { root: old })).toEqual({ path: 'pg_dump', major });
    await expect(pgClientFor('pg_dump', major + 1, { root: old })).rejects.toThrow(
      new PgClientMissingError(
        `pg_dump for PostgreSQL ${major + 1} or newer is not installed (found 13 (${old}), 14 (${old}), ${major} (on PATH)): ` +
          `install the PostgreSQL ${major + 1} client (Debian/Ubuntu: postgresql-client-${major + 1} from apt.postgresql.org)`,
      ),
    );
    await expect(pgClientFor('pg_dump', 16, { root: join(old, 'absent'), path: '' })).rejects.toThrow(/pg_dump for PostgreSQL 16 or newer is not installed \(none found under .*absent or on PATH\)/);
  });
});

describe('the PostgreSQL engine against the real server', () => {
  const target: ResolvedTarget = { name: 'app', engine: 'postgres', host: PG.host, port: PG.port, user: PG.user, database: 'postgres' } as ResolvedTarget;
  const engine = (root?: string) => new PostgresEngine(new ProcessRunner(), { tempDir: tmpdir(), dump: { pgClientRoot: root } } as unknown as BackupManagerOptions);
  let serverMajor: number;

  beforeAll(async () => {
    serverMajor = pgMajorOf(Number((await pgQuery('postgres', `SELECT current_setting('server_version_num') AS v`))[0].v));
  });

  it("picks the client of the server's own major among older and newer ones, and reports its version", async () => {
    const root = made([String(serverMajor - 1), String(serverMajor), String(serverMajor + 1)]);
    // The machine's own client under the server's major: the version it reports is the one recorded.
    const real = (await engine().clientProgram('pg_dump', target)).path;
    rmSync(join(root, String(serverMajor), 'bin', 'pg_dump'));
    symlinkSync(real.startsWith('/') ? real : onPath(real), join(root, String(serverMajor), 'bin', 'pg_dump'));
    const e = engine(root);
    expect(await e.clientProgram('pg_dump', target)).toEqual({ path: join(root, String(serverMajor), 'bin', 'pg_dump'), major: serverMajor });
    expect(await e.clientVersion(target)).toMatch(new RegExp(`^pg_dump \\(PostgreSQL\\) ${serverMajor}\\.`));
  });

  it('refuses, naming the version to install, when only older clients are installed', async () => {
    const e = engine(made([String(serverMajor - 2), String(serverMajor - 1)]));
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(e.clientProgram('pg_dump', target)).rejects.toThrow(
        `PostgreSQL ${PG.host}:${PG.port}: pg_dump for PostgreSQL ${serverMajor} or newer is not installed`,
      );
    } finally {
      process.env.PATH = saved;
    }
  });
});
