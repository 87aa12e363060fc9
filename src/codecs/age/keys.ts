import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { bech32Decode, bech32Encode } from './bech32.js';

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

/** An X25519 public key as age writes it (`age1…`). */
export const RECIPIENT_PATTERN = /^age1[02-9ac-hj-np-z]{58}$/;

export class AgeKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgeKeyError';
  }
}

/** An age X25519 recipient (public key). */
export class X25519Recipient {
  readonly key: KeyObject;

  private constructor(
    /** The 32-byte public key. */
    readonly bytes: Buffer,
    /** Its `age1…` text: public, safe to log and store. */
    readonly text: string,
  ) {
    this.key = createPublicKey({ key: Buffer.concat([SPKI_X25519, bytes]), format: 'der', type: 'spki' });
  }

  static parse(text: string): X25519Recipient {
    const t = text.trim();
    const d = bech32Decode(t);
    if (!d || d.hrp !== 'age' || d.data.length !== 32 || t !== t.toLowerCase()) {
      throw new AgeKeyError(`"${t.slice(0, 80)}" is not an age X25519 recipient (age1… as age-keygen prints it)`);
    }
    return new X25519Recipient(d.data, t);
  }

  static fromBytes(bytes: Buffer): X25519Recipient {
    return new X25519Recipient(Buffer.from(bytes), bech32Encode('age', bytes));
  }
}

/**
 * An age X25519 identity (secret key). Its text never leaves this object: `toString`, JSON and
 * `util.inspect` show only the public recipient.
 */
export class X25519Identity {
  readonly #key: KeyObject;
  readonly recipient: X25519Recipient;

  private constructor(secret: Buffer) {
    this.#key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, secret]), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(this.#key).export({ format: 'der', type: 'spki' });
    this.recipient = X25519Recipient.fromBytes(spki.subarray(spki.length - 32));
    secret.fill(0);
  }

  /** Parses one `AGE-SECRET-KEY-1…` line. The error never repeats the text. */
  static parse(text: string): X25519Identity {
    const d = bech32Decode(text.trim());
    if (!d || d.hrp !== 'age-secret-key-' || d.data.length !== 32 || text.trim() !== text.trim().toUpperCase()) {
      throw new AgeKeyError('not an age X25519 identity (AGE-SECRET-KEY-1… as age-keygen writes it)');
    }
    return new X25519Identity(d.data);
  }

  /** X25519(secret, share). */
  sharedSecret(share: X25519Recipient): Buffer {
    return diffieHellman({ privateKey: this.#key, publicKey: share.key });
  }

  toString(): string {
    return `[age identity for ${this.recipient.text}]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * The identities of an identity file: one `AGE-SECRET-KEY-1…` per line, blank lines and `#`
 * comments ignored (age-keygen's format). `where` names the file in errors, which never quote a
 * line of it.
 */
export function parseIdentities(text: string, where: string): X25519Identity[] {
  const out: X25519Identity[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    try {
      out.push(X25519Identity.parse(line));
    } catch {
      throw new AgeKeyError(`${where} line ${i + 1} is not an age X25519 identity (AGE-SECRET-KEY-1… as age-keygen writes it); only X25519 identities are supported`);
    }
  }
  if (!out.length) throw new AgeKeyError(`${where} holds no age identity (AGE-SECRET-KEY-1… lines)`);
  return out;
}

/** Recipients, one per line or separated by commas/spaces; `#` comments ignored. */
export function parseRecipients(text: string, where: string): X25519Recipient[] {
  const out: X25519Recipient[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    for (const word of line.split(/[\s,]+/).filter(Boolean)) {
      try {
        out.push(X25519Recipient.parse(word));
      } catch (err) {
        throw new AgeKeyError(`${where}: ${(err as Error).message}`);
      }
    }
  }
  if (!out.length) throw new AgeKeyError(`${where} names no age recipient (age1…)`);
  return [...new Map(out.map((r) => [r.text, r])).values()];
}
