import { lstat, readdir, realpath, rmdir, unlink } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';

/**
 * Removes `path` and what it holds without following symlinks: a link is unlinked itself, its
 * target is never touched. Returns how many files and links went.
 */
export async function removeTree(path: string): Promise<number> {
  const st = await lstat(path);
  if (!st.isDirectory()) {
    await unlink(path);
    return 1;
  }
  let n = 0;
  for (const name of await readdir(path)) n += await removeTree(join(path, name));
  await rmdir(path);
  return n;
}

/** Empties `root` (the root itself stays). Refuses a root that is a symlink. */
export async function emptyDir(root: string): Promise<number> {
  const st = await lstat(root).catch(() => undefined);
  if (!st) return 0;
  if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`file cache root ${root} is not a plain directory; refusing to clear it`);
  let n = 0;
  for (const name of await readdir(root)) n += await removeTree(join(root, name));
  return n;
}

/**
 * Resolves `key` (a relative path) inside `root`, or returns a reason it is refused: absolute,
 * `..`, or a parent directory that resolves (through a symlink) outside the root.
 */
export async function resolveInside(root: string, key: string): Promise<string | { refused: string }> {
  if (!key || key.includes('\0') || isAbsolute(key) || key.split(/[\\/]/).some((p) => p === '..')) {
    return { refused: `"${key.slice(0, 100)}" is not a relative path inside the file cache root` };
  }
  const full = join(root, key);
  const rel = relative(root, full);
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) return { refused: `"${key.slice(0, 100)}" is outside the file cache root` };
  const realRoot = await realpath(root);
  const parent = full.slice(0, full.lastIndexOf(sep)) || root;
  const realParent = await realpath(parent).catch(() => undefined);
  if (realParent && realParent !== realRoot && !realParent.startsWith(realRoot + sep)) {
    return { refused: `"${key.slice(0, 100)}" leads outside the file cache root through a symlink` };
  }
  return full;
}
