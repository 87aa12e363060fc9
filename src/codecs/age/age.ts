/**
 * The age v1 file format (https://age-encryption.org/v1) on node:crypto: X25519 and scrypt
 * recipients, the header MAC and the STREAM payload (ChaCha20-Poly1305 over 64 KiB chunks).
 * Files written here decrypt with the stock `age` tool, and `age` files decrypt here.
 */
import { createCipheriv, createDecipheriv, createHmac, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, scrypt as scryptCb, timingSafeEqual, type BinaryLike } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { X25519Identity, X25519Recipient } from './keys.js';

export const AGE_FORMAT = 'age-encryption.org/v1';
const INTRO = `${AGE_FORMAT}\n`;
const CHUNK = 64 * 1024;
const TAG = 16;
const X25519_INFO = 'age-encryption.org/v1/X25519';
const SCRYPT_LABEL = 'age-encryption.org/v1/scrypt';
/** Longest header this reader accepts (a few hundred recipients). */
const MAX_HEADER = 64 * 1024;
/** Highest scrypt work factor this reader accepts: 2^20 × 1 KiB = 1 GiB of memory. */
export const MAX_SCRYPT_LOG_N = 20;

/** A failure that says the file is damaged or was altered (not a missing key). */
export class AgeCorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgeCorruptError';
  }
}

/** None of the configured identities (or the passphrase) opens the file. */
export class AgeNoIdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgeNoIdentityError';
  }
}

/** What to encrypt to: X25519 recipients, or one passphrase (age allows no other stanza beside it). */
export type AgeEncryptTo = { recipients: X25519Recipient[] } | { passphrase: Buffer; logN: number };

/** What may open a file: identities and/or a passphrase. */
export interface AgeKeys {
  identities: X25519Identity[];
  passphrase?: Buffer;
}

export interface Stanza {
  type: string;
  args: string[];
  body: Buffer;
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

/** Strict unpadded base64 (age's): canonical, no padding, standard alphabet. */
function unb64(s: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*$/.test(s) || s.length % 4 === 1) throw new AgeCorruptError(`malformed age header: ${what} is not base64`);
  const out = Buffer.from(s, 'base64');
  if (b64(out) !== s) throw new AgeCorruptError(`malformed age header: ${what} is not canonical base64`);
  return out;
}

function wrapBody(body: Buffer): string {
  const text = b64(body);
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 64) lines.push(text.slice(i, i + 64));
  // The body ends with a line shorter than 64 columns, empty if need be.
  if (text.length % 64 === 0) lines.push('');
  return lines.join('\n');
}

const hkdf = (ikm: BinaryLike, salt: BinaryLike, info: string) => Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));

function seal(key: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: TAG });
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

function open(key: Buffer, sealed: Buffer): Buffer | undefined {
  if (sealed.length < TAG) return undefined;
  const d = createDecipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: TAG });
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  try {
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG)), d.final()]);
  } catch {
    return undefined;
  }
}

function scrypt(passphrase: Buffer, salt: Buffer, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) =>
    scryptCb(passphrase, Buffer.concat([Buffer.from(SCRYPT_LABEL), salt]), 32, { N, r: 8, p: 1, maxmem: 128 * N * 8 + (32 << 20) }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** The header (with its MAC line) for a new file key. */
export async function writeHeader(to: AgeEncryptTo, fileKey: Buffer): Promise<Buffer> {
  const stanzas: string[] = [];
  if ('recipients' in to) {
    if (!to.recipients.length) throw new Error('age: no recipient to encrypt to');
    for (const r of to.recipients) {
      const { privateKey, publicKey } = generateKeyPairSync('x25519');
      const share = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
      const secret = diffieHellman({ privateKey, publicKey: r.key });
      const key = hkdf(secret, Buffer.concat([share, r.bytes]), X25519_INFO);
      stanzas.push(`-> X25519 ${b64(share)}\n${wrapBody(seal(key, fileKey))}`);
    }
  } else {
    const salt = randomBytes(16);
    const key = await scrypt(to.passphrase, salt, to.logN);
    stanzas.push(`-> scrypt ${b64(salt)} ${to.logN}\n${wrapBody(seal(key, fileKey))}`);
  }
  const head = `${INTRO}${stanzas.join('\n')}\n---`;
  const mac = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header')).update(head).digest();
  return Buffer.from(`${head} ${b64(mac)}\n`);
}

/** A parsed header: its stanzas, MAC and the bytes the MAC covers; `length` is where the payload starts. */
export interface ParsedHeader {
  stanzas: Stanza[];
  mac: Buffer;
  macInput: Buffer;
  length: number;
}

/**
 * Parses the header at the start of `buf`. Undefined while `buf` may still be too short (more
 * bytes needed); throws AgeCorruptError when it is not an age v1 header.
 */
export function parseHeader(buf: Buffer, final = false): ParsedHeader | undefined {
  const intro = Buffer.from(INTRO);
  const probe = buf.subarray(0, Math.min(buf.length, intro.length));
  if (!intro.subarray(0, probe.length).equals(probe)) throw new AgeCorruptError('not an age file (the header does not start with age-encryption.org/v1)');
  let pos = intro.length;
  const line = (): string | undefined => {
    const nl = buf.indexOf(10, pos);
    if (nl === -1) {
      if (buf.length > MAX_HEADER || final) throw new AgeCorruptError(buf.length > MAX_HEADER ? 'malformed age header: longer than 64 KiB' : 'the age file ends inside its header (truncated)');
      return undefined;
    }
    const text = buf.subarray(pos, nl).toString('latin1');
    pos = nl + 1;
    return text;
  };
  if (buf.length < intro.length) {
    if (final) throw new AgeCorruptError('the age file ends inside its header (truncated)');
    return undefined;
  }
  const stanzas: Stanza[] = [];
  for (;;) {
    const start = pos;
    const l = line();
    if (l === undefined) return undefined;
    if (l.startsWith('--- ')) {
      const mac = unb64(l.slice(4), 'the MAC');
      if (mac.length !== 32) throw new AgeCorruptError('malformed age header: the MAC is not 32 bytes');
      if (!stanzas.length) throw new AgeCorruptError('malformed age header: no recipient stanza');
      return { stanzas, mac, macInput: buf.subarray(0, start + 3), length: pos };
    }
    if (!l.startsWith('-> ')) throw new AgeCorruptError('malformed age header: expected a stanza or the MAC line');
    const [type, ...args] = l.slice(3).split(' ');
    if (!type || [type, ...args].some((a) => !/^[\x21-\x7e]+$/.test(a))) throw new AgeCorruptError('malformed age header: bad stanza line');
    const parts: Buffer[] = [];
    for (;;) {
      const b = line();
      if (b === undefined) return undefined;
      if (b.length > 64) throw new AgeCorruptError('malformed age header: a stanza body line is longer than 64 columns');
      parts.push(unb64(b, 'a stanza body'));
      if (b.length < 64) break;
    }
    stanzas.push({ type, args, body: Buffer.concat(parts) });
  }
}

/** The file key, unwrapped with `keys` and checked against the header MAC. */
export async function unwrapFileKey(header: ParsedHeader, keys: AgeKeys): Promise<Buffer> {
  let fileKey: Buffer | undefined;
  const types = new Set(header.stanzas.map((s) => s.type));
  if (types.has('scrypt')) {
    if (header.stanzas.length !== 1) throw new AgeCorruptError('malformed age header: a scrypt stanza must be the only one');
    const s = header.stanzas[0];
    if (s.args.length !== 2 || !/^[1-9][0-9]?$/.test(s.args[1])) throw new AgeCorruptError('malformed age header: bad scrypt stanza');
    const salt = unb64(s.args[0], 'the scrypt salt');
    const logN = Number(s.args[1]);
    if (salt.length !== 16 || s.body.length !== 32) throw new AgeCorruptError('malformed age header: bad scrypt stanza');
    if (!keys.passphrase) throw new AgeNoIdentityError('no identity matches: the file is encrypted with a passphrase and none is configured');
    if (logN > MAX_SCRYPT_LOG_N) throw new AgeCorruptError(`the file's scrypt work factor ${logN} is above the accepted ${MAX_SCRYPT_LOG_N}`);
    fileKey = open(await scrypt(keys.passphrase, salt, logN), s.body);
    if (!fileKey) throw new AgeNoIdentityError('no identity matches: the configured passphrase does not open the file');
  } else {
    for (const s of header.stanzas) {
      if (s.type !== 'X25519') continue;
      if (s.args.length !== 1 || s.body.length !== 32) throw new AgeCorruptError('malformed age header: bad X25519 stanza');
      const shareBytes = unb64(s.args[0], 'an X25519 share');
      if (shareBytes.length !== 32) throw new AgeCorruptError('malformed age header: bad X25519 share');
      const share = X25519Recipient.fromBytes(shareBytes);
      for (const id of keys.identities) {
        let secret: Buffer;
        try {
          secret = id.sharedSecret(share);
        } catch {
          throw new AgeCorruptError('malformed age header: bad X25519 share');
        }
        if (secret.every((b) => b === 0)) throw new AgeCorruptError('malformed age header: low-order X25519 share');
        fileKey = open(hkdf(secret, Buffer.concat([shareBytes, id.recipient.bytes]), X25519_INFO), s.body);
        if (fileKey) break;
      }
      if (fileKey) break;
    }
    if (!fileKey) throw new AgeNoIdentityError('no identity matches any of the recipients of the file');
  }
  if (fileKey.length !== 16) throw new AgeCorruptError('malformed age header: the file key is not 16 bytes');
  const mac = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header')).update(header.macInput).digest();
  if (!timingSafeEqual(mac, header.mac)) throw new AgeCorruptError('the age header was altered (its MAC does not match)');
  return fileKey;
}

function chunkNonce(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6); // 11-byte big-endian counter; 2^48 chunks is far beyond any dump
  n[11] = last ? 1 : 0;
  return n;
}

/**
 * Encrypts a stream into an age file: header, payload nonce, then 64 KiB chunks sealed with
 * ChaCha20-Poly1305. Holds at most one chunk of plaintext.
 */
export class AgeEncrypter extends Transform {
  private key?: Buffer;
  private readonly pending = Buffer.allocUnsafe(CHUNK);
  private fill = 0;
  private counter = 0;

  constructor(private readonly to: AgeEncryptTo) {
    super({ highWaterMark: 1 << 20 });
  }

  override _construct(cb: (err?: Error | null) => void): void {
    const fileKey = randomBytes(16);
    writeHeader(this.to, fileKey).then(
      (header) => {
        const nonce = randomBytes(16);
        this.key = hkdf(fileKey, nonce, 'payload');
        fileKey.fill(0);
        this.push(Buffer.concat([header, nonce]));
        cb();
      },
      (err: Error) => cb(err),
    );
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.fill === CHUNK) {
        this.push(this.sealChunk(this.pending, false));
        this.fill = 0;
      }
      const n = Math.min(CHUNK - this.fill, chunk.length - off);
      chunk.copy(this.pending, this.fill, off, off + n);
      this.fill += n;
      off += n;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    // The last chunk may be full; it is empty only when the whole payload is.
    cb(null, this.sealChunk(this.pending.subarray(0, this.fill), true));
  }

  private sealChunk(plain: Buffer, last: boolean): Buffer {
    const c = createCipheriv('chacha20-poly1305', this.key!, chunkNonce(this.counter++, last), { authTagLength: TAG });
    const body = c.update(plain);
    c.final();
    return Buffer.concat([body, c.getAuthTag()]);
  }
}

/**
 * Decrypts an age file. Errors with AgeNoIdentityError when no key opens it, AgeCorruptError
 * when it is damaged, altered or truncated (each chunk is authenticated, the last one is marked,
 * so a shortened file never ends cleanly). `recipientTypes` is known once the header is read.
 */
export class AgeDecrypter extends Transform {
  private head: Buffer | undefined = Buffer.alloc(0);
  private key?: Buffer;
  private nonceNeeded = 16;
  private nonce = Buffer.alloc(0);
  private readonly pending = Buffer.allocUnsafe(CHUNK + TAG);
  private fill = 0;
  private counter = 0;
  /** Bytes of plaintext written out. */
  plainBytes = 0;

  constructor(private readonly keys: AgeKeys) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.head !== undefined) {
      this.head = Buffer.concat([this.head, chunk]);
      let parsed: ParsedHeader | undefined;
      try {
        parsed = parseHeader(this.head);
      } catch (err) {
        return cb(err as Error);
      }
      if (!parsed) return cb();
      const rest = Buffer.from(this.head.subarray(parsed.length));
      this.head = undefined;
      unwrapFileKey(parsed, this.keys).then(
        (fileKey) => {
          this.keyFrom = fileKey;
          this.body(rest, cb);
        },
        (err: Error) => cb(err),
      );
      return;
    }
    this.body(chunk, cb);
  }

  private keyFrom?: Buffer;

  private body(chunk: Buffer, cb: TransformCallback): void {
    try {
      let off = 0;
      if (this.nonceNeeded) {
        const n = Math.min(this.nonceNeeded, chunk.length);
        this.nonce = Buffer.concat([this.nonce, chunk.subarray(0, n)]);
        this.nonceNeeded -= n;
        off = n;
        if (this.nonceNeeded) return cb();
        this.key = hkdf(this.keyFrom!, this.nonce, 'payload');
        this.keyFrom!.fill(0);
      }
      while (off < chunk.length) {
        if (this.fill === this.pending.length) {
          this.push(this.openChunk(this.pending, false));
          this.fill = 0;
        }
        const n = Math.min(this.pending.length - this.fill, chunk.length - off);
        chunk.copy(this.pending, this.fill, off, off + n);
        this.fill += n;
        off += n;
      }
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (this.head !== undefined) parseHeader(this.head, true);
      if (this.head !== undefined || this.nonceNeeded || !this.key) throw new AgeCorruptError('the age file ends before its payload (truncated)');
      if (this.fill < TAG) throw new AgeCorruptError('the age file is truncated (its last chunk is incomplete)');
      const last = this.openChunk(this.pending.subarray(0, this.fill), true);
      if (!last.length && this.counter > 1) throw new AgeCorruptError('the age file ends with an empty chunk (altered)');
      cb(null, last);
    } catch (err) {
      cb(err as Error);
    }
  }

  private openChunk(sealed: Buffer, last: boolean): Buffer {
    const d = createDecipheriv('chacha20-poly1305', this.key!, chunkNonce(this.counter++, last), { authTagLength: TAG });
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    const out = d.update(sealed.subarray(0, sealed.length - TAG));
    try {
      d.final();
    } catch {
      throw new AgeCorruptError(
        last ? `the age payload failed authentication at chunk ${this.counter} (altered, or truncated)` : `the age payload failed authentication at chunk ${this.counter} (altered)`,
      );
    }
    this.plainBytes += out.length;
    return out;
  }
}
