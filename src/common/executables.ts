import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

/** The first of `names` found as an executable on PATH (e.g. `mariadb-dump` before `mysqldump`). */
export function findExecutable(names: string[], path = process.env.PATH ?? '/usr/bin:/bin'): string | undefined {
  for (const name of names) {
    for (const dir of path.split(delimiter)) {
      if (!dir) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        return name;
      } catch {
        // not in this directory
      }
    }
  }
  return undefined;
}

/** Where Debian and Ubuntu (and the PostgreSQL project's apt packages) put each major version's client programs. */
export const PG_CLIENT_ROOT = '/usr/lib/postgresql';

/** A PostgreSQL client program chosen for a server. */
export interface PgClient {
  /** Absolute path under the per-version layout, or the bare name (found on PATH). */
  path: string;
  /** Its major version (`16`, or `9.6` for the old numbering). */
  major: number;
}

/** Thrown when no installed client can serve a server of that version; says what to install. */
export class PgClientMissingError extends Error {}

/** A server's major version from `server_version_num` (160004 → 16, 90624 → 9.6). */
export function pgMajorOf(versionNum: number): number {
  return versionNum >= 100_000 ? Math.floor(versionNum / 10_000) : Math.floor(versionNum / 10_000) + (Math.floor(versionNum / 100) % 100) / 10;
}

/** The majors that have `<root>/<major>/bin/<tool>` installed, ascending. */
export function installedPgMajors(tool: string, root = PG_CLIENT_ROOT): number[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+(\.\d+)?$/.test(n))
    .filter((n) => {
      try {
        accessSync(join(root, n, 'bin', tool), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    })
    .map(Number)
    .sort((a, b) => a - b);
}

const pathVersions = new Map<string, Promise<number | undefined>>();

/** The major version of `tool` as found on PATH (`pg_dump (PostgreSQL) 15.20` → 15); undefined if absent. */
export function pathPgMajor(tool: string, path = process.env.PATH ?? ''): Promise<number | undefined> {
  const key = `${tool}\0${path}`;
  let v = pathVersions.get(key);
  if (!v) {
    v = promisify(execFile)(tool, ['--version'], { env: { PATH: path } }).then(
      (r) => {
        const m = /\b(\d+)(?:\.(\d+))?/.exec(r.stdout.replace(/^[^)]*\)/, ''));
        if (!m) return undefined;
        const major = Number(m[1]);
        return major >= 10 ? major : major + Number(m[2] ?? 0) / 10;
      },
      () => undefined,
    );
    pathVersions.set(key, v);
  }
  return v;
}

/**
 * The client program (`pg_dump`, `pg_restore`, `psql`) for a server of major `serverMajor`: the
 * lowest installed major that is not older than the server, from the per-version layout under
 * `root`. `pg_dump` refuses a server newer than itself, and one much newer than the server can
 * write SQL that server rejects (pg_dump 17 emits `SET transaction_timeout`, unknown to 16), so
 * the closest version wins. Where the layout has none that fits, the program on PATH is used if
 * its version fits; otherwise a `PgClientMissingError` says what to install.
 */
export async function pgClientFor(tool: string, serverMajor: number, opts: { root?: string; path?: string } = {}): Promise<PgClient> {
  const root = opts.root ?? PG_CLIENT_ROOT;
  const installed = installedPgMajors(tool, root);
  const fit = installed.find((m) => m >= serverMajor);
  if (fit !== undefined) return { path: join(root, String(fit), 'bin', tool), major: fit };
  const onPath = await pathPgMajor(tool, opts.path ?? process.env.PATH ?? '');
  if (onPath !== undefined && onPath >= serverMajor) return { path: tool, major: onPath };
  const found = [...installed.map((m) => `${m} (${root})`), ...(onPath !== undefined ? [`${onPath} (on PATH)`] : [])];
  throw new PgClientMissingError(
    `${tool} for PostgreSQL ${serverMajor} or newer is not installed (${found.length ? `found ${found.join(', ')}` : `none found under ${root} or on PATH`}): ` +
      `install the PostgreSQL ${serverMajor} client (Debian/Ubuntu: postgresql-client-${serverMajor} from apt.postgresql.org)`,
  );
}
