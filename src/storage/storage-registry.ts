import { Inject, Injectable } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { DomainError, ErrorCode } from '../common/errors.js';
import { BACKUP_MANAGER_OPTIONS, DEFAULTS, type BackupManagerOptions, type StorageDestinationOptions } from '../config/options.js';
import { LocalStorage } from './local.storage.js';
import { S3Storage } from './s3.storage.js';
import { parseStorageUrl } from './storage-location.js';
import type { StorageBackend } from './storage.interface.js';

/** The name of the destination `storageDir` is, unless a destination of that name is configured. */
export const LOCAL_STORAGE = 'local';

/**
 * The named destinations: `local` (the storage directory) and those of `storages`, opened once.
 * Secret keys are read from their files here and live only inside the S3 clients.
 */
@Injectable()
export class StorageRegistry {
  private readonly backends = new Map<string, StorageBackend>();
  /** Destinations of a backup whose request names none. */
  readonly defaults: string[];

  constructor(@Inject(BACKUP_MANAGER_OPTIONS) options: BackupManagerOptions) {
    this.backends.set(LOCAL_STORAGE, new LocalStorage({ storageDir: options.storageDir }));
    const tuning = { ...DEFAULTS.storage, ...definedOnly(options.storage ?? {}) };
    for (const d of options.storages ?? []) this.backends.set(d.name, openDestination(d, tuning));
    this.defaults = [...(options.storage?.defaults?.length ? options.storage.defaults : DEFAULTS.storage.defaults)];
  }

  has(name: string): boolean {
    return this.backends.has(name);
  }

  /** @throws STORAGE_NOT_FOUND naming the destinations there are. */
  get(name: string): StorageBackend {
    const b = this.backends.get(name);
    if (!b) throw new DomainError(ErrorCode.StorageNotFound, `No storage named "${name}"; configured: ${this.names().join(', ')}`);
    return b;
  }

  names(): string[] {
    return [...this.backends.keys()];
  }

  /** Every destination, the defaults first (the order reads fall back in when a record names none). */
  ordered(): Array<{ name: string; backend: StorageBackend }> {
    const names = [...this.defaults, ...this.names().filter((n) => !this.defaults.includes(n))];
    return names.map((name) => ({ name, backend: this.get(name) }));
  }

  /**
   * The destinations a backup goes to: `requested` (checked, duplicates dropped) or the defaults.
   * @throws VALIDATION_FAILED naming an unknown destination and the known ones.
   */
  resolve(requested?: string[] | null): string[] {
    if (!requested?.length) return [...this.defaults];
    const unknown = requested.filter((n) => typeof n !== 'string' || !this.backends.has(n));
    if (unknown.length) {
      throw new DomainError(ErrorCode.ValidationFailed, `storages: unknown destination${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}; configured: ${this.names().join(', ')}`);
    }
    return [...new Set(requested)];
  }
}

/** Opens one configured destination. */
export function openDestination(d: StorageDestinationOptions, tuning: { partSizeBytes: number; partsInFlight: number }): StorageBackend {
  const loc = parseStorageUrl(d.url);
  if (loc.kind === 'local') return new LocalStorage({ storageDir: loc.dir });
  const secretAccessKey = d.secretAccessKey ?? (d.secretAccessKeyFile ? readFileSync(d.secretAccessKeyFile, 'utf8').replace(/\r?\n$/, '') : undefined);
  return new S3Storage(d.name, loc, { accessKeyId: d.accessKeyId, secretAccessKey }, tuning);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
