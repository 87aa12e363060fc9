import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { close as closeCb, constants, createReadStream, createWriteStream, fchmod, fstatSync, fsync, open as openCb, type WriteStream } from 'node:fs';
import { promisify } from 'node:util';
import { access, lstat, open, readdir, readFile, realpath, rename, rm, statfs, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { DomainError, ErrorCode } from '../common/errors.js';
import { ensurePrivateDir } from '../common/secure-fs.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import type { ArtifactStat, ArtifactWriter, StorageBackend } from './storage.interface.js';

const fdOpen = promisify(openCb);
const fdChmod = promisify(fchmod);
const fdSync = promisify(fsync);
const fdClose = promisify(closeCb);

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
export const PARTIAL_SUFFIX = '.partial';

/**
 * Artifacts on the local filesystem: written as `<key>.<token>.partial`, fsynced, renamed;
 * files 0600 and directories 0700 whatever the umask; symlinks never followed out of the root.
 */
@Injectable()
export class LocalStorage implements StorageBackend {
  readonly kind = 'local' as const;
  private readonly root: string;

  constructor(@Inject(BACKUP_MANAGER_OPTIONS) options: Pick<BackupManagerOptions, 'storageDir'>) {
    this.root = options.storageDir;
  }

  get location(): string {
    return this.root;
  }

  async check(): Promise<void> {
    await this.ensureDir(this.root);
    await access(this.root, constants.W_OK);
  }

  async freeBytes(): Promise<number | undefined> {
    await this.ensureDir(this.root);
    const fs = await statfs(this.root);
    return fs.bavail * fs.bsize;
  }

  /** Maps a key to a path under the root; rejects anything that could escape it. */
  pathOf(key: string): string {
    if (typeof key !== 'string' || key.length > 512 || key.includes('\0')) throw new DomainError(ErrorCode.StorageRefused, 'Invalid artifact key');
    const parts = key.split('/');
    if (!parts.every((p) => SEGMENT.test(p) && p !== '.' && p !== '..' && !p.includes('..'))) {
      throw new DomainError(ErrorCode.StorageRefused, 'Invalid artifact key');
    }
    const full = join(this.root, ...parts);
    const rel = relative(this.root, full);
    if (rel.startsWith('..') || rel.startsWith(sep)) throw new DomainError(ErrorCode.StorageRefused, 'Invalid artifact key');
    return full;
  }

  async createWriter(key: string, group?: string): Promise<ArtifactWriter> {
    const final = this.pathOf(key);
    const dir = dirname(final);
    const tag = group ?? final.slice(dir.length + 1);
    if (!SEGMENT.test(tag)) throw new DomainError(ErrorCode.StorageRefused, 'Invalid artifact group');
    await this.ensureDir(dir);
    // An earlier attempt of the same group is dead or fenced off: its partial goes, and if it
    // is somehow still writing, its rename will fail on the vanished file.
    await this.removePartials(dir, tag);
    const tmp = join(dir, `${tag}.${randomBytes(6).toString('hex')}${PARTIAL_SUFFIX}`);
    const fd = await fdOpen(tmp, 'wx+', 0o600);
    await fdChmod(fd, 0o600);
    const stream: WriteStream = createWriteStream('', { fd, autoClose: false });
    // NOTE: a destroyed WriteStream closes its fd even with autoClose: false (a failed pipeline
    // destroys it). The fd is closed exactly once, by whoever gets there first: closing it twice
    // could close another file that reused the number, and the stream's own EBADF 'error' event,
    // with no listener left, crashed the process (seen when Redis died mid-backup).
    stream.on('error', () => undefined);
    let closed = false;
    stream.once('close', () => {
      closed = true;
    });
    const close = async () => {
      if (closed) return;
      if (stream.destroyed) {
        await new Promise<void>((resolve) => (stream.closed ? resolve() : stream.once('close', () => resolve())));
        return;
      }
      closed = true;
      await fdClose(fd).catch(() => undefined);
    };
    return {
      stream,
      fd,
      written: () => {
        try {
          return fstatSync(fd).size;
        } catch {
          return 0;
        }
      },
      commit: async () => {
        await fdSync(fd);
        await close();
        await rename(tmp, final);
        await this.syncDir(dirname(final));
      },
      abort: async () => {
        if (!closed && !stream.destroyed) stream.destroy();
        await close();
        await unlink(tmp).catch(() => undefined);
      },
    };
  }

  async read(key: string, range?: { start: number }): Promise<Readable> {
    const path = await this.safeExisting(key);
    if (!path) throw new DomainError(ErrorCode.ArtifactMissing, `Artifact ${key} is missing from storage`);
    return createReadStream(path, { start: range?.start });
  }

  async openFd(key: string): Promise<number> {
    const path = await this.safeExisting(key);
    if (!path) throw new DomainError(ErrorCode.ArtifactMissing, `Artifact ${key} is missing from storage`);
    // O_NOFOLLOW: a symlink swapped in after the check is refused, not followed.
    return fdOpen(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  }

  async stat(key: string): Promise<ArtifactStat | undefined> {
    const path = await this.safeExisting(key);
    if (!path) return undefined;
    const st = await lstat(path);
    return { key, size: st.size, modifiedAt: st.mtime };
  }

  async delete(key: string): Promise<boolean> {
    const path = this.pathOf(key);
    try {
      // NOTE: unlink follows symlinked parent directories: a directory swapped for a link would
      // let a delete remove a file outside the root. The parent must resolve inside the root.
      if (!(await this.insideRoot(dirname(path)))) return false;
      const st = await lstat(path);
      if (!st.isFile() && !st.isSymbolicLink()) return false;
      await unlink(path); // unlinks a planted symlink itself, never its target
      return true;
    } catch {
      return false;
    }
  }

  async writeJson(key: string, value: unknown, group?: string): Promise<void> {
    const w = await this.createWriter(key, group);
    try {
      await new Promise<void>((resolve, reject) => {
        w.stream.once('error', reject);
        w.stream.end(JSON.stringify(value, null, 2) + '\n', resolve);
      });
      await w.commit();
    } catch (err) {
      await w.abort();
      throw err;
    }
  }

  async readJson<T>(key: string): Promise<T | undefined> {
    const path = await this.safeExisting(key);
    if (!path) return undefined;
    return JSON.parse(await readFile(path, 'utf8')) as T;
  }

  async list(prefix = ''): Promise<ArtifactStat[]> {
    const out: ArtifactStat[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (e.isFile() && !e.name.endsWith(PARTIAL_SUFFIX)) {
          const key = relative(this.root, full).split(sep).join('/');
          if (!key.startsWith(prefix)) continue;
          const st = await lstat(full);
          out.push({ key, size: st.size, modifiedAt: st.mtime });
        }
      }
    };
    await walk(this.root);
    return out;
  }

  async usage(): Promise<{ usedBytes: number; freeBytes: number; totalBytes: number }> {
    await this.ensureDir(this.root);
    const files = await this.list();
    const fs = await statfs(this.root);
    return {
      usedBytes: files.reduce((s, f) => s + f.size, 0),
      freeBytes: fs.bavail * fs.bsize,
      totalBytes: fs.blocks * fs.bsize,
    };
  }

  /** Removes the partial files earlier attempts of `tag` left in `dir` (a crashed worker, say). */
  private async removePartials(dir: string, tag: string): Promise<number> {
    let removed = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.startsWith(`${tag}.`) && name.endsWith(PARTIAL_SUFFIX)) {
        await rm(join(dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Whether `path` resolves (symlinks followed) to the root or below it. */
  private async insideRoot(path: string): Promise<boolean> {
    try {
      const rel = relative(await realpath(this.root), await realpath(path));
      return !rel.startsWith('..') && !isAbsolute(rel);
    } catch {
      return false;
    }
  }

  /** The path of an existing regular file under the root, or undefined; symlinks are refused. */
  private async safeExisting(key: string): Promise<string | undefined> {
    const path = this.pathOf(key);
    try {
      const st = await lstat(path);
      if (!st.isFile()) return undefined;
      return (await this.insideRoot(path)) ? path : undefined;
    } catch {
      return undefined;
    }
  }

  private async ensureDir(dir: string): Promise<void> {
    const rel = relative(this.root, dir);
    if (rel.startsWith('..')) throw new DomainError(ErrorCode.StorageRefused, 'Invalid artifact key');
    await ensurePrivateDir(this.root);
    let cur = this.root;
    for (const part of rel ? rel.split(sep) : []) {
      cur = join(cur, part);
      const st = await lstat(cur).catch(() => undefined);
      if (st?.isSymbolicLink()) throw new DomainError(ErrorCode.StorageRefused, 'Storage directory contains a symlink; refusing to follow it');
      await ensurePrivateDir(cur);
    }
  }

  private async syncDir(dir: string): Promise<void> {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}
