import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { ProcessRunner } from '../common/process-runner.js';
import type { ArtifactWriter } from '../storage/storage.interface.js';
import { writeArtifact } from './write-artifact.js';
import { AgeDecrypter } from './age/age.js';
import { parseRecipients } from './age/keys.js';
import type { ArtifactEncryption } from './encryption-keys.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A writer over a real file: `stream` appends to it, `fd` is its descriptor. */
function fileWriter(path: string): ArtifactWriter & { close(): void } {
  const fd = openSync(path, 'w+');
  const chunks: Buffer[] = [];
  return {
    fd,
    stream: new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c);
        cb();
      },
      final(cb) {
        writeFileSync(path, Buffer.concat(chunks));
        cb();
      },
    }),
    written: () => chunks.reduce((n, c) => n + c.length, 0),
    commit: async () => undefined,
    abort: async () => undefined,
    close: () => closeSync(fd),
  };
}

describe('writeArtifact', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bm-write-artifact-'));
  const dump = Buffer.from('COPY t (v) FROM stdin;\n' + 'row\n'.repeat(50_000) + '\\.\n');
  const runner = new ProcessRunner();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('streams through the taps and the compressor: size, hash and raw size are those of the file', async () => {
    const path = join(dir, 'a.sql.gz');
    const w = fileWriter(path);
    const seen: number[] = [];
    const tap = new Transform({
      transform(c: Buffer, _e, cb) {
        seen.push(c.length);
        cb(null, c);
      },
    });
    const a = writeArtifact(w, 'gzip', 6, runner);
    const source = new PassThrough();
    source.end(dump);
    await a.write(source, new AbortController().signal, [tap]);
    w.close();
    const file = readFileSync(path);
    expect(gunzipSync(file).equals(dump)).toBe(true);
    expect(a.result()).toEqual({ sha256: sha256(file), bytes: file.length, rawBytes: dump.length });
    expect(seen.reduce((x, y) => x + y, 0)).toBe(dump.length);
  });

  it("with zstd and no taps, zstd reads the client's pipe and writes the file itself", async () => {
    const input = join(dir, 'dump.sql');
    writeFileSync(input, dump);
    const path = join(dir, 'a.sql.zst');
    const w = fileWriter(path);
    const client = spawn('cat', [input], { stdio: ['ignore', 'pipe', 'ignore'] });
    const a = writeArtifact(w, 'zstd', 3, runner);
    await a.write(client.stdout, new AbortController().signal, []);
    w.close();
    const file = readFileSync(path);
    const out = await new Promise<Buffer>((resolve, reject) => {
      const z = spawn('zstd', ['-d', '-c', path], { stdio: ['ignore', 'pipe', 'ignore'] });
      const parts: Buffer[] = [];
      z.stdout.on('data', (d: Buffer) => parts.push(d));
      z.on('close', (code) => (code === 0 ? resolve(Buffer.concat(parts)) : reject(new Error(`zstd -d exited ${code}`))));
    });
    expect(out.equals(dump)).toBe(true);
    expect(a.result()).toEqual({ sha256: sha256(file), bytes: file.length, rawBytes: dump.length });
  });

  describe('encrypted (age): the file decrypts with the stock age, and the hash covers the ciphertext', () => {
    const keyFile = join(dir, 'key.txt');
    const keygen = spawnSync('age-keygen', ['-o', keyFile], { encoding: 'utf8' });
    const recipient = /Public key: (age1\S+)/.exec(keygen.stderr)![1];
    const x25519: ArtifactEncryption = { mode: 'x25519', recipients: parseRecipients(recipient, 'test') };
    const ageDecrypt = (path: string) => {
      const r = spawnSync('age', ['-d', '-i', keyFile, path], { maxBuffer: 1 << 28 });
      if (r.status !== 0) throw new Error(`age -d failed: ${r.stderr}`);
      return r.stdout;
    };

    it('zstd, no taps: pg_dump | zstd | age -r … > file, no byte through this process', async () => {
      const input = join(dir, 'dump-e.sql');
      writeFileSync(input, dump);
      const path = join(dir, 'e.sql.zst.age');
      const w = fileWriter(path);
      const client = spawn('cat', [input], { stdio: ['ignore', 'pipe', 'ignore'] });
      const a = writeArtifact(w, 'zstd', 3, runner, x25519);
      await a.write(client.stdout, new AbortController().signal, []);
      w.close();
      const file = readFileSync(path);
      expect(file.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
      const z = spawnSync('zstd', ['-d', '-c'], { input: ageDecrypt(path), maxBuffer: 1 << 28 });
      expect(z.stdout.equals(dump)).toBe(true);
      expect(a.result()).toEqual({ sha256: sha256(file), bytes: file.length, rawBytes: dump.length });
    });

    it('gzip through the taps, then age', async () => {
      const path = join(dir, 'e.sql.gz.age');
      const w = fileWriter(path);
      const a = writeArtifact(w, 'gzip', 6, runner, x25519);
      const source = new PassThrough();
      source.end(dump);
      await a.write(source, new AbortController().signal, [new PassThrough()]);
      w.close();
      const file = readFileSync(path);
      expect(gunzipSync(ageDecrypt(path)).equals(dump)).toBe(true);
      expect(a.result()).toEqual({ sha256: sha256(file), bytes: file.length, rawBytes: dump.length });
    });

    it('a passphrase (scrypt), made in-process behind zstd', async () => {
      const input = join(dir, 'dump-p.sql');
      writeFileSync(input, dump);
      const path = join(dir, 'p.sql.zst.age');
      const w = fileWriter(path);
      const passphrase = Buffer.from('a long passphrase for tests');
      const client = spawn('cat', [input], { stdio: ['ignore', 'pipe', 'ignore'] });
      const a = writeArtifact(w, 'zstd', 3, runner, { mode: 'scrypt', passphrase, logN: 12 });
      await a.write(client.stdout, new AbortController().signal, []);
      w.close();
      const file = readFileSync(path);
      expect(file.toString('latin1', 0, 40)).toMatch(/^age-encryption\.org\/v1\n-> scrypt /);
      const plain: Buffer[] = [];
      await pipeline(Readable.from([file]), new AgeDecrypter({ identities: [], passphrase }), new Writable({ write: (c: Buffer, _e, cb) => (plain.push(c), cb()) }));
      const z = spawnSync('zstd', ['-d', '-c'], { input: Buffer.concat(plain), maxBuffer: 1 << 28 });
      expect(z.stdout.equals(dump)).toBe(true);
      expect(a.result()).toEqual({ sha256: sha256(file), bytes: file.length, rawBytes: dump.length });
    });
  });
});
