import { constants, type Dirent } from 'node:fs';
import { lstat, open, readdir, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { isAbsolute } from 'node:path';

/** Open a directory, never through a symlink in the last component (ELOOP then). */
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** Deepest nesting a clear walks; each level holds one descriptor open. */
const MAX_DEPTH = 256;

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** A key the file cache refuses to clear, with the reason (answered as 400). */
export class RefusedKey extends Error {}

/**
 * A directory held open by descriptor. Its entries are reached as `/proc/self/fd/<fd>/<name>`:
 * the kernel resolves that to the directory that was opened, whatever has since been renamed or
 * swapped for a symlink at its old path. `unlink`/`rmdir` never follow the last component, and a
 * child directory is opened with O_NOFOLLOW, so a walk never leaves the tree it started in.
 * (Node has no openat/unlinkat; this is their Linux equivalent.)
 */
class OpenDir {
  private constructor(private readonly fh: FileHandle) {}

  /** @throws ENOTDIR (or ELOOP) when `path` is a symlink or not a directory. */
  static async open(path: string): Promise<OpenDir> {
    return new OpenDir(await open(path, DIR_FLAGS));
  }

  /** Path of an entry of this very directory. */
  entry(name: string): string {
    return `/proc/self/fd/${this.fh.fd}/${name}`;
  }

  /** The child directory `name`; undefined when it is gone, a symlink or not a directory. */
  async child(name: string): Promise<OpenDir | undefined> {
    try {
      return await OpenDir.open(this.entry(name));
    } catch (err) {
      if (['ENOENT', 'ELOOP', 'ENOTDIR'].includes(code(err) ?? '')) return undefined;
      throw err;
    }
  }

  list(): Promise<Dirent[]> {
    return readdir(`/proc/self/fd/${this.fh.fd}`, { withFileTypes: true });
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** Opens the cache root; undefined when it does not exist. Refuses a symlink or a file. */
async function openRoot(root: string): Promise<OpenDir | undefined> {
  let dir: OpenDir;
  try {
    dir = await OpenDir.open(root);
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    if (code(err) === 'ELOOP' || code(err) === 'ENOTDIR') throw new Error(`file cache root ${root} is not a plain directory; refusing to clear it`);
    throw err;
  }
  try {
    await dir.list();
  } catch (err) {
    await dir.close();
    // NOTE: without /proc there is no way to walk by descriptor from Node; clear nothing then.
    if (code(err) === 'ENOENT') throw new Error('clearing the file cache needs /proc (Linux); nothing was removed');
    throw err;
  }
  return dir;
}

async function withDir<T>(dir: OpenDir, fn: (d: OpenDir) => Promise<T>): Promise<T> {
  try {
    return await fn(dir);
  } finally {
    await dir.close();
  }
}

/** Removes what `dir` holds; returns how many files and links went. */
async function emptyOpen(dir: OpenDir, depth: number): Promise<number> {
  if (depth > MAX_DEPTH) throw new Error(`the file cache is nested deeper than ${MAX_DEPTH} levels; stopped there`);
  let n = 0;
  for (const e of await dir.list()) n += await removeEntry(dir, e.name, e.isDirectory(), depth);
  return n;
}

/**
 * Removes the entry `name` of `dir` and, for a directory, what it holds. A link is removed
 * itself; its target is never touched. An entry that changes kind meanwhile is handled as what
 * it has become; one that vanished counts nothing.
 */
async function removeEntry(dir: OpenDir, name: string, isDir: boolean, depth: number, retried = false): Promise<number> {
  if (isDir) {
    const child = await dir.child(name);
    if (child) {
      const n = await withDir(child, (c) => emptyOpen(c, depth + 1));
      // Replaced or refilled while it was emptied: what is there now stays.
      await rmdir(dir.entry(name)).catch((err) => (['ENOENT', 'ENOTDIR', 'ENOTEMPTY', 'EEXIST'].includes(code(err) ?? '') ? undefined : Promise.reject(err)));
      return n;
    }
  }
  try {
    await unlink(dir.entry(name));
    return 1;
  } catch (err) {
    if (code(err) === 'ENOENT') return 0;
    if ((code(err) === 'EISDIR' || code(err) === 'EPERM') && !retried) return removeEntry(dir, name, true, depth, true);
    throw err;
  }
}

/** Empties `root` (the root itself stays). Refuses a root that is a symlink. */
export async function emptyDir(root: string): Promise<number> {
  const dir = await openRoot(root);
  return dir ? withDir(dir, (d) => emptyOpen(d, 0)) : 0;
}

/** Removes the top-level entries of `root` whose names start with `prefix`. */
export async function removeMatching(root: string, prefix: string): Promise<number> {
  const dir = await openRoot(root);
  if (!dir) return 0;
  return withDir(dir, async (d) => {
    let n = 0;
    for (const e of await d.list()) if (e.name.startsWith(prefix)) n += await removeEntry(d, e.name, e.isDirectory(), 0);
    return n;
  });
}

/**
 * Removes the entry at the relative path `key` inside `root` (and what it holds). Each parent is
 * opened without following links.
 * @throws RefusedKey when a parent is a symlink.
 */
export async function removeInside(root: string, key: string): Promise<number> {
  const parts = keyParts(key);
  const dir = await openRoot(root);
  if (!dir) return 0;
  return walkTo(dir, parts.slice(0, -1), key, (parent) => removeEntry(parent, parts[parts.length - 1], false, parts.length - 1));
}

/**
 * Checks `key` before anything is cleared: a relative path inside the root, no `..`, no parent
 * that is a symlink. Returns the reason it is refused, or undefined.
 */
export async function keyProblem(root: string, key: string): Promise<string | undefined> {
  try {
    const parts = keyParts(key);
    const dir = await openRoot(root);
    if (dir) await walkTo(dir, parts.slice(0, -1), key, async () => 0);
    return undefined;
  } catch (err) {
    if (err instanceof RefusedKey) return err.message;
    throw err;
  }
}

/** The components of a key, or RefusedKey. */
function keyParts(key: string): string[] {
  const shown = `"${key.slice(0, 100)}"`;
  if (!key || key.includes('\0') || isAbsolute(key)) throw new RefusedKey(`${shown} is not a relative path inside the file cache root`);
  const parts = key.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new RefusedKey(`${shown} is not a relative path inside the file cache root`);
  if (!parts.length) throw new RefusedKey(`${shown} names the file cache root itself; clear without keys to empty it`);
  return parts;
}

/** Opens each directory of `parents` below `dir` in turn (closing each), then runs `fn` on the last. */
async function walkTo(dir: OpenDir, parents: string[], key: string, fn: (parent: OpenDir) => Promise<number>): Promise<number> {
  return withDir(dir, async (d) => {
    if (!parents.length) return fn(d);
    let next: OpenDir;
    try {
      next = await OpenDir.open(d.entry(parents[0]));
    } catch (err) {
      if (code(err) === 'ENOENT') return 0;
      // NOTE: Linux answers ENOTDIR (not ELOOP) for a symlink opened with O_DIRECTORY|O_NOFOLLOW.
      if (code(err) !== 'ELOOP' && code(err) !== 'ENOTDIR') throw err;
      const st = await lstat(d.entry(parents[0])).catch(() => undefined);
      if (code(err) === 'ELOOP' || st?.isSymbolicLink()) {
        throw new RefusedKey(`"${key.slice(0, 100)}" leads outside the file cache root through a symlink (${parents[0]})`);
      }
      return 0; // a file where a directory was named: nothing to remove
    }
    return walkTo(next, parents.slice(1), key, fn);
  });
}
