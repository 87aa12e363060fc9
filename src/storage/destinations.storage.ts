import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { DomainError, ErrorCode } from '../common/errors.js';
import { FanoutWriter } from './fanout-writer.js';
import { LOCAL_STORAGE, StorageRegistry } from './storage-registry.js';
import type { ArtifactStat, ArtifactStorage, StorageBackend } from './storage.interface.js';

/**
 * Every destination behind the one storage interface the rest of the service uses
 * (`ARTIFACT_STORAGE`): a writer fans out to the destinations it is given (the defaults
 * otherwise), reads come from the first destination that has the key, deletes remove it from
 * every destination. Code that knows a backup's copies (downloads, restores, verification) picks
 * its destinations itself through `StorageRegistry`.
 */
@Injectable()
export class DestinationsStorage implements ArtifactStorage {
  constructor(private readonly registry: StorageRegistry) {}

  /**
   * Starts writing `key` to `storages` (default: the default destinations) at once.
   * @throws when a destination cannot start (the ones started are aborted).
   */
  async createWriter(key: string, group?: string, storages?: string[]): Promise<FanoutWriter> {
    const names = this.registry.resolve(storages);
    const started: Array<{ storage: string; writer: Awaited<ReturnType<StorageBackend['createWriter']>> }> = [];
    try {
      for (const storage of names) started.push({ storage, writer: await this.registry.get(storage).createWriter(key, group) });
    } catch (err) {
      for (const s of started) await s.writer.abort().catch(() => undefined);
      throw err;
    }
    return new FanoutWriter(started);
  }

  /** The destinations holding `key`, in read order. */
  async holders(key: string): Promise<Array<{ name: string; backend: StorageBackend; stat: ArtifactStat }>> {
    const out = [];
    for (const { name, backend } of this.registry.ordered()) {
      const stat = await backend.stat(key).catch(() => undefined);
      if (stat) out.push({ name, backend, stat });
    }
    return out;
  }

  async read(key: string, range?: { start: number }): Promise<Readable> {
    for (const { backend } of this.registry.ordered()) {
      if (await backend.stat(key).catch(() => undefined)) return backend.read(key, range);
    }
    throw new DomainError(ErrorCode.ArtifactMissing, `Artifact ${key} is missing from storage`);
  }

  async openFd(key: string): Promise<number> {
    for (const { backend } of this.registry.ordered()) {
      if (backend.kind === 'local' && (await backend.stat(key))) return backend.openFd(key);
    }
    throw new DomainError(ErrorCode.ArtifactMissing, `Artifact ${key} is missing from local storage`);
  }

  async stat(key: string): Promise<ArtifactStat | undefined> {
    for (const { backend } of this.registry.ordered()) {
      const st = await backend.stat(key).catch(() => undefined);
      if (st) return st;
    }
    return undefined;
  }

  /** Removes `key` from every destination. @returns whether any held it. */
  async delete(key: string): Promise<boolean> {
    let any = false;
    for (const { backend } of this.registry.ordered()) {
      if (await backend.delete(key).catch(() => false)) any = true;
    }
    return any;
  }

  /** Writes to every default destination. */
  async writeJson(key: string, value: unknown, group?: string): Promise<void> {
    for (const name of this.registry.defaults) await this.registry.get(name).writeJson(key, value, group);
  }

  async readJson<T>(key: string): Promise<T | undefined> {
    for (const { backend } of this.registry.ordered()) {
      const v = await backend.readJson<T>(key).catch(() => undefined);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  async list(prefix?: string): Promise<ArtifactStat[]> {
    const byKey = new Map<string, ArtifactStat>();
    for (const { backend } of this.registry.ordered()) {
      for (const s of await backend.list(prefix).catch(() => [] as ArtifactStat[])) if (!byKey.has(s.key)) byKey.set(s.key, s);
    }
    return [...byKey.values()];
  }

  /** The local storage directory's usage (health and system info report that filesystem). */
  usage(): Promise<{ usedBytes: number; freeBytes: number; totalBytes: number }> {
    return this.registry.get(LOCAL_STORAGE).usage();
  }
}
