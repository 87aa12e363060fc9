import { Inject, Injectable, Optional } from '@nestjs/common';
import { closeSync, readSync } from 'node:fs';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AgeCorruptError, AgeNoIdentityError, parseHeader, type AgeKeys, type ParsedHeader } from '../codecs/age/age.js';
import { ChecksumGate } from '../codecs/checksum-gate.js';
import { decryptor } from '../codecs/encryption.js';
import { EncryptionKeys } from '../codecs/encryption-keys.js';
import { decompressor, zstdTester } from '../codecs/compression.js';
import { restoreInput } from './restore-input.js';
import { hashFile } from '../codecs/file-hash.js';
import { FdReader } from '../codecs/fd-reader.js';
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
  /** Encrypted artifacts: whether it was decrypted (an identity for it is configured here) or only its ciphertext checked. */
  decrypted?: boolean;
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
    private readonly keys: EncryptionKeys,
    @Optional() private readonly copies?: BackupCopies,
  ) {}

  /** Where `record` can be read from, best first. */
  private async sources(record: BackupRecord): Promise<CopySource[]> {
    if (this.copies) return this.copies.sources(record);
    return [{ storage: 'storage', backend: this.storage as StorageBackend }];
  }

  /**
   * Every readable copy exists, has the recorded size and SHA-256, and decompresses to the end
   * (see `checkIn`); each copy's state is recorded (VERIFIED, CORRUPTED or MISSING). OK when at
   * least one copy is; the reason then names the copies that are not.
   */
  async check(record: BackupRecord, signal?: AbortSignal): Promise<BasicCheck> {
    if (!record.fileKey || !record.checksum) return { ok: false, reason: 'the record has no artifact or checksum' };
    const sources = await this.sources(record);
    if (!sources.length) return { ok: false, reason: await this.noReadableCopy(record) };
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

  /** Why nothing can be read: each destination's recorded state and its last error. */
  private async noReadableCopy(record: BackupRecord): Promise<string> {
    const rows = (await this.copies?.forBackup(record.id).catch(() => [])) ?? [];
    const states = rows.map((c) => `${c.storage}: ${c.state.toLowerCase()}${c.errorMessage ? ` (${c.errorMessage})` : ''}`);
    return `no destination holds a readable copy of the artifact${states.length ? `; ${states.join('; ')}` : ''}`;
  }

  /**
   * The copy in one destination exists, has the recorded size and SHA-256, and decompresses to
   * the end. An encrypted one is also decrypted when an identity for it is configured here (a
   * full check); without one, its SHA-256 (which covers the ciphertext) and its age header are
   * checked. A copy that is not a local file (S3) is streamed through the checks.
   */
  private async checkIn(storage: ArtifactStorage & { kind?: string }, record: BackupRecord, signal?: AbortSignal): Promise<BasicCheck> {
    if (!record.fileKey || !record.checksum) return { ok: false, reason: 'the record has no artifact or checksum' };
    const st = await storage.stat(record.fileKey).catch(() => undefined);
    if (!st) return { ok: false, reason: `the artifact ${record.fileKey} is missing from storage` };
    if (record.sizeBytes !== null && st.size !== record.sizeBytes) {
      return { ok: false, sizeBytes: st.size, reason: `the artifact is ${st.size} bytes but ${record.sizeBytes} were written (truncated or replaced)` };
    }
    if (storage.kind === 's3') return this.checkStreamed(storage, record, st.size, signal);
    if (record.encrypted) return this.checkEncrypted(storage, record, st.size, signal);
    let rawBytes: () => number | undefined;
    try {
      if (record.compression === 'zstd') {
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
    opts: { database: string; dropExisting: boolean; onlyTables?: string[] | null; createdDatabase?: boolean; createAtCommit?: boolean; signal: AbortSignal } & Pick<RestoreRunOptions, 'beforeCommit' | 'scratch'>,
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
      onlyTables: opts.onlyTables ?? null,
      createdDatabase: opts.createdDatabase ?? false,
      createAtCommit: opts.createAtCommit ?? false,
    };
    // Which key opens it is settled before a byte is read (and before the caller changes anything).
    const keys = record.encrypted ? this.keysFor(record) : undefined;
    // A local zstd artifact is opened once: zstd can read it itself (see `restoreInput`), and a
    // restorer that takes the stream instead reads the same descriptor.
    const fd = (from as { kind?: string }).kind === 'local' && !keys && record.compression === 'zstd' ? await from.openFd(record.fileKey).catch(() => undefined) : undefined;
    const source = fd !== undefined ? new FdReader(fd) : await from.read(record.fileKey);
    const input = restoreInput(
      source,
      new ChecksumGate(record.checksum),
      keys ? decryptor(keys) : undefined,
      record.compression as Compression,
      record.rawBytes,
      this.runner,
      fd !== undefined ? { fd, checksum: record.checksum } : undefined,
    );
    try {
      await restorer.restore(target, spec, input, {
        signal: opts.signal,
        timeoutMs: this.options.dump.timeoutMs,
        lockWaitTimeoutMs: this.options.dump.lockWaitTimeoutMs,
        beforeCommit: opts.beforeCommit,
        scratch: opts.scratch,
      });
    } finally {
      if (fd !== undefined) {
        // Nothing may read the descriptor once it is closed (its number could be reused).
        if (!source.closed) {
          source.destroy();
          await once(source, 'close').catch(() => undefined);
        }
        await input.settled?.();
        closeSync(fd);
      }
    }
  }
  /**
   * The keys that open an encrypted backup here; throws (before anything is read or changed)
   * saying which identity it needs when none configured here does.
   */
  keysFor(record: BackupRecord): AgeKeys {
    if (!record.encryption) throw new EngineError(`backup ${record.id} is marked encrypted but records no encryption details; it cannot be opened`, { retryable: false });
    return this.keys.keysFor(record.encryption, `backup ${record.id}`);
  }

  /**
   * A copy that is not a local file: read once through the checksum gate, then (when this
   * process can open it) the decryptor and the decompressor, counting the raw bytes.
   */
  private async checkStreamed(storage: ArtifactStorage, record: BackupRecord, size: number, signal?: AbortSignal): Promise<BasicCheck> {
    const keys = record.encrypted && record.encryption ? this.keys.tryKeysFor(record.encryption, `backup ${record.id}`) : undefined;
    const opened = !record.encrypted || !!keys;
    const raw = new MeasureTap();
    let tested: number | undefined;
    try {
      const source = await storage.read(record.fileKey!);
      const decrypt = keys ? decryptor(keys) : undefined;
      const chain: unknown[] = [source, new ChecksumGate(record.checksum!), ...(decrypt ? [decrypt.stream] : [])];
      if (opened && record.compression === 'zstd') {
        // `zstd -t` decompresses on its own side of a pipe and reports the size: the dump's
        // bytes never come back into this process.
        const tester = zstdTester(this.runner, 'pipe', signal);
        const [piped, test] = await Promise.allSettled([Promise.all([pipeline([...chain, tester.stdin!] as unknown as NodeJS.ReadWriteStream[], { signal }), decrypt?.done]), tester.done]);
        // A checksum mismatch says most; else zstd's own message rather than the pipe it closed.
        if (piped.status === 'rejected' && /checksum mismatch/.test((piped.reason as Error).message)) throw piped.reason;
        if (test.status === 'rejected') throw test.reason;
        if (piped.status === 'rejected') throw piped.reason;
        tested = tester.outputBytes();
      } else {
        const codec = opened ? decompressor(record.compression as Compression, this.runner) : undefined;
        const sink = new Writable({ write: (_c, _e, cb) => cb() });
        chain.push(...(codec ? [codec.stream, raw] : []), sink);
        await Promise.all([pipeline(chain as unknown as NodeJS.ReadWriteStream[], { signal }), decrypt?.done, codec?.done]);
      }
    } catch (err) {
      const msg = (err as Error).message;
      return { ok: false, sizeBytes: size, reason: /checksum mismatch/.test(msg) ? msg : `the artifact does not ${record.encrypted ? 'decrypt or ' : ''}decompress: ${msg}` };
    }
    if (!opened) return { ok: true, sizeBytes: size, decrypted: false };
    const rawBytes = tested ?? raw.bytes;
    if (record.rawBytes !== null && rawBytes !== record.rawBytes) {
      return { ok: false, sizeBytes: size, rawBytes, reason: `the artifact decompresses to ${rawBytes} bytes, ${record.rawBytes} were dumped` };
    }
    return { ok: true, sizeBytes: size, rawBytes, ...(record.encrypted ? { decrypted: true } : {}) };
  }

  /**
   * An encrypted artifact: its SHA-256 always (it covers the ciphertext, no key needed) and its
   * age header; with an identity for it configured here, also decrypted and decompressed to the
   * end while it is hashed.
   */
  private async checkEncrypted(storage: ArtifactStorage, record: BackupRecord, size: number, signal?: AbortSignal): Promise<BasicCheck> {
    const keys = record.encryption ? this.keys.tryKeysFor(record.encryption, `backup ${record.id}`) : undefined;
    const fd = await storage.openFd(record.fileKey!);
    let raw: MeasureTap | undefined;
    try {
      const header = readHeaderAt(fd);
      if (typeof header === 'string') {
        const hashed = await hashFile(fd, { signal });
        if (hashed.sha256 !== record.checksum) return { ok: false, sizeBytes: size, reason: `checksum mismatch: expected ${record.checksum}, got ${hashed.sha256}` };
        return { ok: false, sizeBytes: size, reason: `the artifact is not a readable age file: ${header}` };
      }
      if (!keys) {
        const hashed = await hashFile(fd, { signal });
        if (hashed.sha256 !== record.checksum) return { ok: false, sizeBytes: size, reason: `checksum mismatch: expected ${record.checksum}, got ${hashed.sha256}` };
        const expected = record.encryption?.mode === 'scrypt' ? ['scrypt'] : (record.encryption?.recipients ?? []).map(() => 'X25519');
        const found = header.stanzas.map((st) => st.type);
        if (found.join() !== expected.join()) return { ok: false, sizeBytes: size, reason: `the age header holds ${found.join(', ')} recipients, the record says ${expected.join(', ') || 'none'}` };
        return { ok: true, sizeBytes: size, decrypted: false };
      }
      const source = await storage.read(record.fileKey!);
      const decrypt = decryptor(keys);
      const codec = decompressor(record.compression as Compression, this.runner);
      const tap = new MeasureTap();
      raw = tap;
      const sink = new Writable({ write: (_c, _e, cb) => cb() });
      const [hashed, streamed] = await Promise.allSettled([
        hashFile(fd, { signal }),
        Promise.all([pipeline([source, decrypt.stream, codec.stream, tap, sink] as unknown as NodeJS.ReadWriteStream[], { signal }), decrypt.done, codec.done]),
      ]);
      if (hashed.status === 'rejected') throw hashed.reason;
      if (hashed.value.sha256 !== record.checksum) return { ok: false, sizeBytes: size, reason: `checksum mismatch: expected ${record.checksum}, got ${hashed.value.sha256}` };
      if (streamed.status === 'rejected') {
        const err = streamed.reason as Error;
        const what = err instanceof AgeCorruptError || err instanceof AgeNoIdentityError ? 'decrypt' : 'decompress';
        return { ok: false, sizeBytes: size, reason: `the artifact does not ${what}: ${err.message}` };
      }
    } catch (err) {
      return { ok: false, sizeBytes: size, reason: `the artifact could not be read: ${(err as Error).message}` };
    } finally {
      closeSync(fd);
    }
    if (record.rawBytes !== null && raw.bytes !== record.rawBytes) {
      return { ok: false, sizeBytes: size, rawBytes: raw.bytes, reason: `the artifact decrypts and decompresses to ${raw.bytes} bytes, ${record.rawBytes} were dumped` };
    }
    return { ok: true, sizeBytes: size, rawBytes: raw.bytes, decrypted: true };
  }
}

/** The age header at the start of the file behind `fd`, or why it cannot be read as one. */
function readHeaderAt(fd: number): ParsedHeader | string {
  const buf = Buffer.alloc(64 * 1024);
  const n = readSync(fd, buf, 0, buf.length, 0);
  try {
    return parseHeader(buf.subarray(0, n), n < buf.length) ?? 'the header is longer than 64 KiB';
  } catch (err) {
    return (err as Error).message;
  }
}
