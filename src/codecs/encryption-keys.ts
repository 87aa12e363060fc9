import { Inject, Injectable } from '@nestjs/common';
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { EngineError } from '../common/errors.js';
import { BACKUP_MANAGER_OPTIONS, DEFAULTS, type BackupManagerOptions, type EncryptionOptions } from '../config/options.js';
import type { AgeKeys } from './age/age.js';
import { parseIdentities, parseRecipients, type X25519Identity, type X25519Recipient } from './age/keys.js';

/** The artifact format of encrypted backups. */
export const ENCRYPTION_FORMAT = 'age-encryption.org/v1';

/** How one artifact is encrypted, as the record and the manifest keep it: public facts only. */
export interface EncryptionInfo {
  format: typeof ENCRYPTION_FORMAT;
  /** `x25519`: to `recipients`; `scrypt`: with a passphrase. */
  mode: 'x25519' | 'scrypt';
  /** The recipients' public keys (`age1…`); empty for a passphrase. */
  recipients: string[];
}

/** What a new artifact is encrypted to. The passphrase stays a Buffer, out of every log and record. */
export type ArtifactEncryption = { mode: 'x25519'; recipients: X25519Recipient[] } | { mode: 'scrypt'; passphrase: Buffer; logN: number };

export function describeEncryption(enc: ArtifactEncryption): EncryptionInfo {
  return { format: ENCRYPTION_FORMAT, mode: enc.mode, recipients: enc.mode === 'x25519' ? enc.recipients.map((r) => r.text) : [] };
}

/**
 * Reads a secret file: a regular file nobody but its owner may read (0600 or 0400), else a clear
 * refusal. The error names the file and its mode, never its content.
 */
export function readPrivateFile(path: string, what: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (err) {
    throw new EngineError(`${what} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { retryable: false });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new EngineError(`${what} ${path} is not a regular file`, { retryable: false });
    if (st.mode & 0o077) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new EngineError(`${what} ${path} has mode ${mode}: it must be readable by its owner only (0600); run chmod 600 ${path}`, { retryable: false });
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function recipientsOf(o: EncryptionOptions): X25519Recipient[] {
  const out: X25519Recipient[] = [];
  if (o.recipients?.length) out.push(...parseRecipients(o.recipients.join('\n'), 'encryption.recipients'));
  if (o.recipientsFile) {
    let text: string;
    try {
      text = readFileSync(o.recipientsFile, 'utf8');
    } catch (err) {
      throw new EngineError(`the recipients file ${o.recipientsFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { retryable: false });
    }
    out.push(...parseRecipients(text, o.recipientsFile));
  }
  return [...new Map(out.map((r) => [r.text, r])).values()];
}

function identitiesOf(path: string): X25519Identity[] {
  return parseIdentities(readPrivateFile(path, 'the identity file').toString('utf8'), `the identity file ${path}`);
}

/** A passphrase file's content without its final line break. */
function passphraseOf(path: string): Buffer {
  const raw = readPrivateFile(path, 'the passphrase file');
  let end = raw.length;
  if (end && raw[end - 1] === 10) end--;
  if (end && raw[end - 1] === 13) end--;
  if (!end) throw new EngineError(`the passphrase file ${path} is empty`, { retryable: false });
  return raw.subarray(0, end);
}

/** Problems of the encryption options (files readable, 0600, parseable), each with its option path. */
export function encryptionOptionProblems(o: EncryptionOptions): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  const check = (path: string, fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      out.push({ path, message: (err as Error).message.replace(/^encryption\.recipients: /, '') });
    }
  };
  if (o.recipients !== undefined && (!Array.isArray(o.recipients) || o.recipients.some((r) => typeof r !== 'string'))) out.push({ path: 'recipients', message: 'must be an array of age1… recipients' });
  else if (o.recipients?.length) check('recipients', () => parseRecipients(o.recipients!.join('\n'), 'encryption.recipients'));
  if (o.recipientsFile) check('recipientsFile', () => recipientsOf({ recipientsFile: o.recipientsFile }));
  if (o.identityFile) check('identityFile', () => identitiesOf(o.identityFile!));
  if (o.passphraseFile) check('passphraseFile', () => passphraseOf(o.passphraseFile!));
  if (o.encryptByDefault !== undefined && typeof o.encryptByDefault !== 'boolean') out.push({ path: 'encryptByDefault', message: 'must be true or false' });
  if (o.encryptByDefault && !o.recipients?.length && !o.recipientsFile && !o.passphraseFile) {
    out.push({ path: 'encryptByDefault', message: 'is on, but no recipients and no passphrase file are set to encrypt to' });
  }
  return out;
}

/**
 * The keys of this process: what new backups are encrypted to (public recipients, or a
 * passphrase), and what opens encrypted backups (identities, passphrase), read from their files
 * at each use. Secrets stay inside the objects it returns; its errors name files and public keys.
 */
@Injectable()
export class EncryptionKeys {
  private readonly o: EncryptionOptions;

  constructor(@Inject(BACKUP_MANAGER_OPTIONS) options: BackupManagerOptions) {
    this.o = options.encryption ?? {};
  }

  /** Whether this process can encrypt a new backup (recipients or a passphrase file are set). */
  canEncrypt(): boolean {
    return !!(this.o.recipients?.length || this.o.recipientsFile || this.o.passphraseFile);
  }

  /** Whether backups are encrypted when nothing more specific says. */
  encryptByDefault(): boolean {
    return this.o.encryptByDefault ?? this.canEncrypt();
  }

  /** What a new backup is encrypted to here: the recipients, else the passphrase. */
  forNewBackup(): ArtifactEncryption {
    const recipients = recipientsOf(this.o);
    if (recipients.length) return { mode: 'x25519', recipients };
    if (this.o.passphraseFile) return { mode: 'scrypt', passphrase: passphraseOf(this.o.passphraseFile), logN: this.o.scryptWorkFactor ?? DEFAULTS.encryption.scryptWorkFactor };
    throw new EngineError(
      'the backup is to be encrypted, but this worker has no BACKUP_ENCRYPTION_RECIPIENTS (age1… public keys) or BACKUP_ENCRYPTION_PASSPHRASE_FILE to encrypt to',
      { retryable: false },
    );
  }

  /** Whether a passphrase file is configured here. */
  hasPassphrase(): boolean {
    return !!this.o.passphraseFile;
  }

  /** The public keys of the configured identities (none when no identity file is set). */
  identityRecipients(): string[] {
    return this.o.identityFile ? identitiesOf(this.o.identityFile).map((i) => i.recipient.text) : [];
  }

  /**
   * The keys that open an artifact encrypted as `info` (of backup `what`), or an error that says
   * which identity is needed: "needs the identity for recipient age1…".
   */
  keysFor(info: EncryptionInfo, what: string): AgeKeys {
    if (info.mode === 'scrypt') {
      if (!this.o.passphraseFile) {
        throw new EngineError(`${what} is encrypted with a passphrase; set BACKUP_ENCRYPTION_PASSPHRASE_FILE where restores, drills and full verifications run`, { retryable: false });
      }
      return { identities: [], passphrase: passphraseOf(this.o.passphraseFile) };
    }
    const needed = info.recipients.join(' or ');
    if (!this.o.identityFile) {
      throw new EngineError(`${what} is encrypted (age) and needs the identity for recipient ${needed}; no BACKUP_ENCRYPTION_IDENTITY_FILE is set where this runs`, { retryable: false });
    }
    const all = identitiesOf(this.o.identityFile);
    const matching = all.filter((i) => info.recipients.includes(i.recipient.text));
    if (!matching.length) {
      throw new EngineError(
        `no identity matches: ${what} needs the identity for recipient ${needed}; BACKUP_ENCRYPTION_IDENTITY_FILE holds identities for ${all.map((i) => i.recipient.text).join(', ')} only`,
        { retryable: false },
      );
    }
    return { identities: matching };
  }

  /** Like `keysFor`, but undefined where nothing configured here opens it. */
  tryKeysFor(info: EncryptionInfo, what: string): AgeKeys | undefined {
    try {
      return this.keysFor(info, what);
    } catch {
      return undefined;
    }
  }
}
