import type { ChildProcess, StdioOptions } from 'node:child_process';
import { Duplex, type Readable } from 'node:stream';
import { EngineError } from '../common/errors.js';
import type { ProcessRunner } from '../common/process-runner.js';
import { AgeDecrypter, AgeEncrypter, type AgeKeys } from './age/age.js';
import type { Codec } from './compression.js';
import type { ArtifactEncryption } from './encryption-keys.js';

/**
 * Encryption stages. New artifacts to X25519 recipients go through the Debian `age` binary (it
 * encrypts several times faster than node:crypto here, see docs/encryption.md, and keeps the bytes
 * out of this process); its argv holds only the recipients' public keys. Passphrase artifacts
 * (age reads passphrases only from a terminal) and every decryption use the in-process
 * implementation (`age/age.ts`), so a secret never reaches a child's argv, environment or a file.
 */

/** An `age -e` child for `recipients` that is killed when `signal` aborts. */
function ageChild(runner: ProcessRunner, enc: Extract<ArtifactEncryption, { mode: 'x25519' }>, stdio: StdioOptions, signal?: AbortSignal): { child: ChildProcess; done: Promise<void> } {
  const args = ['-e', ...enc.recipients.flatMap((r) => ['-r', r.text])];
  const child = runner.spawn('age', args, { env: {}, stdio });
  const kill = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  signal?.addEventListener('abort', kill, { once: true });
  const done = runner.wait(child).then(({ code, signal: killedBy, stderr }) => {
    signal?.removeEventListener('abort', kill);
    if (code !== 0) throw new EngineError(`age failed (${killedBy ?? `exit ${code}`}): ${stderr.split('\n').filter(Boolean).pop() ?? 'no message'}`, { retryable: true });
  });
  done.catch(() => undefined);
  return { child, done };
}

/**
 * `… | age -e -r … > file`: age reads `input` (a pipe from the compressor) and writes the file
 * behind `output` itself; no byte passes through this process.
 */
export function ageFromPipe(runner: ProcessRunner, input: Readable, output: number, enc: Extract<ArtifactEncryption, { mode: 'x25519' }>, signal?: AbortSignal): { done: Promise<void> } {
  const { done } = ageChild(runner, enc, [input as never, output, 'pipe'], signal);
  // Our copy of the pipe's read end must go, or the compressor would block if age died.
  input.destroy();
  return { done };
}

/** Encryption as a stream stage: an `age` child for recipients, in-process for a passphrase. */
export function encryptor(enc: ArtifactEncryption, runner: ProcessRunner): Codec {
  if (enc.mode === 'scrypt') return streamCodec(new AgeEncrypter({ passphrase: enc.passphrase, logN: enc.logN }));
  const { child, done } = ageChild(runner, enc, ['pipe', 'pipe', 'pipe']);
  const stream = Duplex.from({ writable: child.stdin!, readable: child.stdout! });
  stream.once('close', () => {
    if (!stream.readableEnded && child.exitCode === null) child.kill('SIGKILL');
  });
  return { stream, done };
}

/** Decryption as a stream stage (in-process): errors with AgeNoIdentityError or AgeCorruptError. */
export function decryptor(keys: AgeKeys): Codec & { stream: AgeDecrypter } {
  return streamCodec(new AgeDecrypter(keys));
}

function streamCodec<T extends Duplex>(stream: T): Codec & { stream: T } {
  const done = new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  done.catch(() => undefined);
  return { stream, done };
}
