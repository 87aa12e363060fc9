import { chmod, mkdir, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

const HOST = hostname().replace(/[^A-Za-z0-9.-]/g, '_').slice(0, 64);
/**
 * `<kind>-<host>-<pid>-`: whose private directory it is, so a crashed process's can be swept.
 * `cred`: credential files; `spool`: unpacked archives.
 */
export type PrivateDirKind = 'cred' | 'spool';
const owner = (kind: PrivateDirKind) => `${kind}-${HOST}-${process.pid}-`;
const OWNED = /^(?:cred|spool)-(.+)-(\d+)-[A-Za-z0-9]{6}$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the private directories (credential files, unpacked archives) that processes of this
 * host left behind when they died without cleaning up (SIGKILL, OOM). Only this host's entries,
 * and only those whose process is gone. @returns how many were removed.
 */
export async function sweepDeadSecretDirs(tempRoot: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(tempRoot).catch(() => [] as string[])) {
    const m = OWNED.exec(name);
    if (!m || m[1] !== HOST || alive(Number(m[2]))) continue;
    await rm(join(tempRoot, name), { recursive: true, force: true }).catch(() => undefined);
    removed++;
  }
  return removed;
}

/**
 * Creates `dir` (and parents) and forces mode 0700 whatever the umask. A directory shared by
 * design (sticky bit, like /tmp) is refused rather than made private: chmod there would lock
 * every other user and service out of it.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await stat(dir);
  if (st.mode & 0o1000) {
    throw new Error(`${dir} is a shared directory (sticky bit set, like /tmp); backup-manager keeps private data only in a directory of its own: name a subdirectory such as ${join(dir, 'backup-manager')}`);
  }
  if ((st.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

/**
 * Creates `dir` 0700 when it is missing, and leaves an existing one as it is: for the folder
 * that holds a file we make private on its own (the SQLite catalog).
 */
export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/**
 * Writes `content` to a fresh 0600 file in a fresh 0700 directory under `tempRoot`, runs `fn`
 * with its path, and removes both afterwards, whatever happens.
 */
export async function withSecretFile<T>(tempRoot: string, name: string, content: string, fn: (path: string) => Promise<T>): Promise<T> {
  return withPrivateDir(tempRoot, 'cred', async (dir) => {
    const path = join(dir, name);
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.chmod(0o600);
      await fh.writeFile(content, 'utf8');
    } finally {
      await fh.close();
    }
    return fn(path);
  });
}

/**
 * Runs `fn` with a fresh 0700 directory under `tempRoot`, named after this process so that a
 * later worker removes it if this one dies (`sweepDeadSecretDirs`); removes it afterwards,
 * whatever happens.
 */
export async function withPrivateDir<T>(tempRoot: string, kind: PrivateDirKind, fn: (dir: string) => Promise<T>): Promise<T> {
  await ensurePrivateDir(tempRoot);
  await sweepDeadSecretDirs(tempRoot);
  const dir = await mkdtemp(join(tempRoot, owner(kind)));
  try {
    await chmod(dir, 0o700);
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
