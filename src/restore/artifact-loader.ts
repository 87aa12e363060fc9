import { Inject, Injectable, Optional } from '@nestjs/common';
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
import { BackupCopies, type CopySource } from '../backup/backup-copies.service.js';
import { CopyState } from '../backup/entities/backup-copy.entity.js';
import { ARTIFACT_STORAGE, type ArtifactStorage, type StorageBackend } from '../storage/storage.interface.js';
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
 * With several destinations, verification reads every copy and records each one's state;
 * restores read from the first copy that is there whole, falling back to the next.
 */
@Injectable()
export class ArtifactLoader {
  constructor(
    @Inject(ARTIFACT_STORAGE) private readonly storage: ArtifactStorage,
    private readonly runner: ProcessRunner,
    @Inject(BACKUP_MANAGER_OPTIONS) private readonly options: BackupManagerOptions,
    @Optional() private readonly copies?: BackupCopies,
  ) {}

  /** Where `record` can be read from, best first. */
  private async sources(record: BackupRecord): Promise<CopySource[]> {
    if (this.copies) return this.copies.sources(record);
    return [{ storage: 'storage', backend: this.storage as StorageBackend }];
  }

  /**
   * Every readable copy exists, has the recorded size and SHA-256, and decompresses to the end;
   * each copy's state is recorded (VERIFIED, CORRUPTED or MISSING). OK when at least one copy
   * is; the reason then names the copies that are not.
   */
  async check(record: BackupRecord, signal?: AbortSignal): Promise<BasicCheck> {
    if (!record.fileKey || !record.checksum) return { ok: false, reason: 'the record has no artifact or checksum' };
    const sources = await this.sources(record);
    if (!sources.length) return { ok: false, reason: 'no destination holds a readable copy of the artifact' };
    let good: BasicCheck | undefined;
    let firstBad: BasicCheck | undefined;
    const bad: string[] = [];
    for (const src of sources) {
      const r = await this.checkIn(src.backend, record, signal);
      if (signal?.aborted) return r;
      if (src.copy && this.copies) {
        const state = r.ok ? CopyState.Verified : /missing/.test(r.reason ?? '') ? CopyState.Missing : CopyState.Corrupted;
        await this.copies.set(record.id, src.storage, { fileKey: record.fileKey, state, errorMessage: r.ok ? null : (r.reason ?? null), ...(r.ok ? { verifiedAt: new Date() } : {}) });
      }
      if (r.ok) good ??= r;
      else {
        firstBad ??= r;
        bad.push(sources.length > 1 ? `${src.storage}: ${r.reason}` : (r.reason ?? 'failed'));
      }
    }
    if (good) return bad.length ? { ...good, reason: `good, but not every destination holds it: ${bad.join('; ')}` } : good;
    return sources.length > 1 ? { ...firstBad!, reason: bad.join('; ') } : firstBad!;
  }

  /** `check` of the copy in one destination. */
  private async checkIn(storage: ArtifactStorage & { kind?: string }, record: BackupRecord, signal?: AbortSignal): Promise<BasicCheck> {
    if (!record.fileKey || !record.checksum) return { ok: false, reason: 'the record has no artifact or checksum' };
    const st = await storage.stat(record.fileKey).catch(() => undefined);
    if (!st) return { ok: false, reason: `the artifact ${record.fileKey} is missing from storage` };
    if (record.sizeBytes !== null && st.size !== record.sizeBytes) {
      return { ok: false, sizeBytes: st.size, reason: `the artifact is ${st.size} bytes but ${record.sizeBytes} were written (truncated or replaced)` };
    }
    let rawBytes: () => number | undefined;
    try {
      if (record.compression === 'zstd' && storage.kind !== 's3') {
        // zstd -t reads the file itself while this process hashes it with positioned reads:
        // no artifact byte passes through a stream here (both read from the page cache).
        const fd = await storage.openFd(record.fileKey);
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
        const source = await storage.read(record.fileKey);
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
    opts: { database: string; dropExisting: boolean; signal: AbortSignal } & Pick<RestoreRunOptions, 'beforeCommit' | 'scratch'>,
  ): Promise<void> {
    if (!record.fileKey || !record.checksum) throw new EngineError(`backup ${record.id} has no artifact`, { retryable: false });
    // The first copy that is there whole; a missing or truncated one is skipped for the next.
    let from: ArtifactStorage | undefined;
    const skipped: string[] = [];
    for (const src of await this.sources(record)) {
      const st = await src.backend.stat(record.fileKey).catch(() => undefined);
      if (st && (record.sizeBytes === null || st.size === record.sizeBytes)) {
        from = src.backend;
        break;
      }
      skipped.push(st ? `${src.storage}: ${st.size} bytes but ${record.sizeBytes} were written (truncated or replaced)` : `${src.storage}: missing`);
    }
    if (!from) {
      const why = skipped.length === 1 ? skipped[0].replace(/^[^:]+: /, '') : skipped.join('; ');
      throw new EngineError(
        skipped.length === 1 && / bytes but /.test(why) ? `the artifact is ${why}; nothing was restored` : `the artifact of backup ${record.id} is missing from storage (${why || 'no destination holds it'}); nothing was restored`,
        { retryable: false },
      );
    }
    const spec: RestoreSpec = {
      database: opts.database,
      format: record.format as DumpFormat,
      scope: record.scope as BackupScopeKind,
      tables: record.tables,
      includeSchema: record.includeSchema,
      includeData: record.includeData,
      dropExisting: opts.dropExisting,
    };
    const source = await from.read(record.fileKey);
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
