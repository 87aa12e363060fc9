import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import { AgeCorruptError, AgeDecrypter, AgeEncrypter, AgeNoIdentityError, type AgeEncryptTo, type AgeKeys } from './age.js';
import { parseIdentities, parseRecipients } from './keys.js';

const dir = mkdtempSync(join(tmpdir(), 'bm-age-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A key pair made by the stock age-keygen: the identity file's path, its text and its public key. */
function keygen(name: string): { file: string; text: string; recipient: string } {
  const file = join(dir, name);
  const r = spawnSync('age-keygen', ['-o', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`age-keygen failed: ${r.stderr}`);
  return { file, text: readFileSync(file, 'utf8'), recipient: /Public key: (age1\S+)/.exec(r.stderr)![1] };
}

async function run(stream: NodeJS.ReadWriteStream, input: Buffer, pieces = 7): Promise<Buffer> {
  const src = new PassThrough();
  const out: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      out.push(c);
      cb();
    },
  });
  const step = Math.max(1, Math.ceil(input.length / pieces));
  setImmediate(() => {
    for (let i = 0; i < input.length; i += step) src.write(input.subarray(i, i + step));
    src.end();
  });
  await pipeline(src, stream, sink);
  return Buffer.concat(out);
}

const encrypt = (to: AgeEncryptTo, plain: Buffer) => run(new AgeEncrypter(to), plain);
const decrypt = (keys: AgeKeys, file: Buffer) => run(new AgeDecrypter(keys), file);

function ageCli(args: string[], input?: Buffer): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync('age', args, { input, maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('age v1 on node:crypto, against the stock age tool', () => {
  const a = keygen('a.txt');
  const b = keygen('b.txt');
  const idA = parseIdentities(a.text, 'a.txt');
  const idB = parseIdentities(b.text, 'b.txt');

  it('reads age-keygen identities and derives their public keys; never shows the secret', () => {
    expect(idA.map((i) => i.recipient.text)).toEqual([a.recipient]);
    const secret = /AGE-SECRET-KEY-1\S+/.exec(a.text)![0];
    for (const shown of [String(idA[0]), JSON.stringify(idA[0]), inspect(idA[0]), inspect({ idA })]) {
      expect(shown).not.toContain(secret);
      expect(shown).not.toContain(secret.slice(15, 40));
    }
    expect(() => parseIdentities(`# comment\n${secret.slice(0, -1)}x\n`, 'key.txt')).toThrow(/key\.txt line 2 is not an age X25519 identity/);
    try {
      parseIdentities(`${secret.slice(0, -1)}x`, 'key.txt');
    } catch (err) {
      expect((err as Error).message).not.toContain(secret.slice(15, 30));
    }
    expect(parseRecipients(`# team\n${a.recipient}, ${b.recipient}\n${a.recipient}\n`, 'r').map((r) => r.text)).toEqual([a.recipient, b.recipient]);
    expect(() => parseRecipients('age1nope', 'BACKUP_ENCRYPTION_RECIPIENTS')).toThrow(/BACKUP_ENCRYPTION_RECIPIENTS: "age1nope" is not an age X25519 recipient/);
  });

  for (const size of [0, 1, 65_535, 65_536, 65_537, 3 * 65_536, 200_001]) {
    it(`what it encrypts (${size} bytes) to two recipients, age -d opens with either identity`, async () => {
      const plain = randomBytes(size);
      const file = await encrypt({ recipients: parseRecipients(`${a.recipient}\n${b.recipient}`, 'r') }, plain);
      const path = join(dir, `f${size}.age`);
      writeFileSync(path, file);
      for (const key of [a.file, b.file]) {
        const r = ageCli(['-d', '-i', key, path]);
        expect(r.stderr).toBe('');
        expect(r.stdout.equals(plain)).toBe(true);
      }
    });

    it(`what age -r encrypts (${size} bytes), it decrypts`, async () => {
      const plain = randomBytes(size);
      const r = ageCli(['-r', a.recipient], plain);
      expect(r.status).toBe(0);
      expect((await decrypt({ identities: [...idB, ...idA] }, r.stdout)).equals(plain)).toBe(true);
    });
  }

  it('a passphrase file (scrypt) opens with the passphrase through the stock age on a terminal', async () => {
    const plain = randomBytes(100_000);
    const passphrase = Buffer.from('correct horse battery staple');
    const file = await encrypt({ passphrase, logN: 14 }, plain);
    expect(file.toString('latin1', 0, 100)).toMatch(/^age-encryption\.org\/v1\n-> scrypt \S{22} 14\n/);
    expect((await decrypt({ identities: idA, passphrase }, file)).equals(plain)).toBe(true);
    await expect(decrypt({ identities: idA, passphrase: Buffer.from('wrong') }, file)).rejects.toThrow(AgeNoIdentityError);
    await expect(decrypt({ identities: idA }, file)).rejects.toThrow(/no identity matches: the file is encrypted with a passphrase/);
    // age reads passphrases only from a terminal: `script` gives it one, fed from our stdin.
    const path = join(dir, 'p.age');
    const out = join(dir, 'p.out');
    writeFileSync(path, file);
    const r = spawnSync('script', ['-qec', `age -d -o ${out} ${path}`, '/dev/null'], { input: `${passphrase}\n`, timeout: 20_000 });
    expect(r.status).toBe(0);
    expect(readFileSync(out).equals(plain)).toBe(true);
  });

  describe('a damaged or foreign file is refused, never passed through', () => {
    const plain = randomBytes(300_000);
    let file: Buffer;
    beforeAll(async () => {
      file = await encrypt({ recipients: parseRecipients(a.recipient, 'r') }, plain);
    });

    it('a flipped payload byte', async () => {
      const bad = Buffer.from(file);
      bad[bad.length - 70_000] ^= 1;
      await expect(decrypt({ identities: idA }, bad)).rejects.toThrow(AgeCorruptError);
      await expect(decrypt({ identities: idA }, bad)).rejects.toThrow(/failed authentication at chunk 4 \(altered\)/);
    });

    it('truncated anywhere: inside the header, at a chunk boundary, mid-chunk', async () => {
      const headerEnd = file.indexOf('\n---') + 50;
      for (const cut of [10, headerEnd - 20, headerEnd + 16 + 65_552, headerEnd + 16 + 2 * 65_552, file.length - 1]) {
        await expect(decrypt({ identities: idA }, file.subarray(0, cut))).rejects.toThrow(AgeCorruptError);
      }
    });

    it("another file's header on this payload", async () => {
      const other = await encrypt({ recipients: parseRecipients(a.recipient, 'r') }, plain);
      const h1 = file.indexOf('\n---') + 1;
      const h2 = other.indexOf('\n---') + 1;
      const swapped = Buffer.concat([other.subarray(0, other.indexOf(10, h2) + 1), file.subarray(file.indexOf(10, h1) + 1)]);
      await expect(decrypt({ identities: idA }, swapped)).rejects.toThrow(AgeCorruptError);
      // A recipient stanza altered: the MAC no longer matches.
      const stanza = Buffer.from(file);
      const at = stanza.indexOf('-> X25519 ') + 12;
      stanza[at] = stanza[at] === 0x41 ? 0x42 : 0x41;
      await expect(decrypt({ identities: idA }, stanza)).rejects.toThrow(/no identity matches|altered|malformed/);
    });

    it('a wrong identity: "no identity matches"', async () => {
      await expect(decrypt({ identities: idB }, file)).rejects.toThrow(AgeNoIdentityError);
      await expect(decrypt({ identities: idB }, file)).rejects.toThrow(/no identity matches/);
    });

    it('not an age file at all', async () => {
      await expect(decrypt({ identities: idA }, Buffer.from('hello world, this is not age\n'))).rejects.toThrow(/not an age file/);
    });
  });
});
