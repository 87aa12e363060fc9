import { Inject, Injectable } from '@nestjs/common';
import { closeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChecksumGate } from '../codecs/checksum-gate.js';
import { decompressor, zstdTester } from '../codecs/compression.js';
import { hashFile } from '../codecs/file-hash.js';
import { MeasureTap } from '../codecs/tap.js';
import { EngineError } from '../common/errors.js';
import { ProcessRunner } from '../common/process-runner.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions, type Compression } from '../config/options.js';
import type { BackupRecord } from '../backup/entities/backup-record.entity.js';
import type { BackupScopeKind, DumpFormat } from '../engines/engine.interface.js';
import type { DatabaseRestorer, RestoreRunOptions, RestoreSpec } from '../engines/restorer.interface.js';
import { ARTIFACT_STORAGE, type ArtifactStorage } from '../storage/storage.interface.js';
import type { ResolvedTarget } from '../targets/targets.service.js';

/** Result of reading an artifact end to end. */
export interface BasicCheck {
  ok: boolean;
  reason?: string;
  sizeBytes?: number;
  rawBytes?: number;
}

/**
 * Streams artifacts out of storage through the checksum gate and the decompressor: into a
 * restorer (restores, drills) or into nothing (basic verification). Never loads a dump in memory.
 */
@Injectable()
export class ArtifactLoader {
  constructor(
    @Inject(ARTIFACT_STORAGE) private readonly storage: ArtifactStorage,
    private readonly runner: ProcessRunner,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
  ) {}

  /** The artifact exists, has the recorded size and SHA-256, and decompresses to the end. */
  async check(record: BackupRecord, signal?: AbortSignal): Promise<BasicCheck> {
    if (!record.fileKey || !record.checksum) return { ok: false, reason: 'the record has no artifact or checksum' };
    const st = await this.storage.stat(record.fileKey);
    if (!st) return { ok: false, reason: `the artifact ${record.fileKey} is missing from storage` };
    if (record.sizeBytes !== null && st.size !== record.sizeBytes) {
      return { ok: false, sizeBytes: st.size, reason: `the artifact is ${st.size} bytes but ${record.sizeBytes} were written (truncated or replaced)` };
    }
    let rawBytes: () => number | undefined;
    try {
      if (record.compression === 'zstd') {
        // zstd -t reads the file itself while this process hashes it with positioned reads:
        // no artifact byte passes through a stream here (both read from the page cache).
        const fd = await this.storage.openFd(record.fileKey);
        try {
          const tester = zstdTester(this.runner, fd, signal);
          rawBytes = tester.outputBytes;
          const [hashed, tested] = await Promise.allSettled([hashFile(fd, { signal }), tester.done]);
          if (hashed.status === 'rejected') throw hashed.reason;
          if (hashed.value.sha256 !== record.checksum) throw new Error(`checksum mismatch: expected ${record.checksum}, got ${hashed.value.sha256}`);
          if (tested.status === 'rejected') throw tested.reason;
        } finally {
          closeSync(fd);
        }
      } else {
        const source = await this.storage.read(record.fileKey);
        const codec = decompressor(record.compression as Compression, this.runner);
        const raw = new MeasureTap();
        rawBytes = () => raw.bytes;
        const sink = new Writable({ write: (_c, _e, cb) => cb() });
        await Promise.all([
          pipeline([source, new ChecksumGate(record.checksum), codec.stream, raw, sink] as unknown as NodeJS.ReadWriteStream[], { signal }),
          codec.done,
        ]);
      }
    } catch (err) {
      const msg = (err as Error).message;
      return { ok: false, sizeBytes: st.size, reason: /checksum mismatch/.test(msg) ? msg : `the artifact does not decompress: ${msg}` };
    }
    const raw = rawBytes();
    if (record.rawBytes !== null && raw !== undefined && raw !== record.rawBytes) {
      return { ok: false, sizeBytes: st.size, rawBytes: raw, reason: `the artifact decompresses to ${raw} bytes, ${record.rawBytes} were dumped` };
    }
    return { ok: true, sizeBytes: st.size, rawBytes: raw };
  }

  /**
   * Loads the artifact into `database` through `restorer`. The restorer commits only once the
   * checksum gate has seen the last byte, the decompressor exited 0 and the decompressed size is
   * the recorded one (`RestoreInput.verified`).
   */
  async restore(
    record: BackupRecord,
    target: ResolvedTarget,
    restorer: DatabaseRestorer,
    opts: { database: string; dropExisting: boolean; onlyTables?: string[] | null; signal: AbortSignal } & Pick<RestoreRunOptions, 'beforeCommit' | 'scratch'>,
  ): Promise<void> {
    if (!record.fileKey || !record.checksum) throw new EngineError(`backup ${record.id} has no artifact`, { retryable: false });
    const st = await this.storage.stat(record.fileKey);
    if (!st) throw new EngineError(`the artifact of backup ${record.id} is missing from storage`, { retryable: false });
    if (record.sizeBytes !== null && st.size !== record.sizeBytes) {
      throw new EngineError(`the artifact is ${st.size} bytes but ${record.sizeBytes} were written (truncated or replaced); nothing was restored`, { retryable: false });
    }
    const spec: RestoreSpec = {
      database: opts.database,
      format: record.format as DumpFormat,
      scope: record.scope as BackupScopeKind,
      tables: record.tables,
      includeSchema: record.includeSchema,
      includeData: record.includeData,
      dropExisting: opts.dropExisting,
      onlyTables: opts.onlyTables ?? null,
    };
    const source = await this.storage.read(record.fileKey);
    const gate = new ChecksumGate(record.checksum);
    const codec = decompressor(record.compression as Compression, this.runner);
    const raw = new MeasureTap();
    const verified = async () => {
      if (!gate.passed) throw new EngineError('the artifact was not read to its end; nothing was restored', { retryable: false });
      await codec.done.catch((err: Error) => {
        throw new EngineError(`the artifact did not decompress to its end (${err.message}); nothing was restored`, { retryable: false });
      });
      if (record.rawBytes !== null && raw.bytes !== record.rawBytes) {
        throw new EngineError(`the artifact decompressed to ${raw.bytes} bytes, but ${record.rawBytes} were dumped; nothing was restored`, { retryable: false });
      }
    };
    await restorer.restore(
      target,
      spec,
      { source, transforms: [gate, codec.stream, raw], done: [codec.done], verified, rawBytes: record.rawBytes },
      {
        signal: opts.signal,
        timeoutMs: this.options.dump.timeoutMs,
        lockWaitTimeoutMs: this.options.dump.lockWaitTimeoutMs,
        beforeCommit: opts.beforeCommit,
        scratch: opts.scratch,
      },
    );
  }
}
