import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

/** The environment as `loadConfig` reads it: variable names to their text. */
export type Env = Record<string, string | undefined>;

export function readConfigFile(path: string | undefined, problems: string[]): Env {
  if (!path) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v == null ? undefined : String(v)]));
  } catch (err) {
    problems.push(`CONFIG_FILE ${path} could not be read as JSON: ${(err as Error).message}`);
    return {};
  }
}

export function readSecretFile(name: string, path: string, problems: string[]): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    problems.push(`${name} could not be read: ${path}`);
    return '';
  }
}

/** A password file's content without its final line break (other white space is part of the password). */
export function readPasswordFile(name: string, path: string, problems: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch {
    problems.push(`${name} could not be read: ${path}`);
    return undefined;
  }
}

export const DEV_SECRET_FILE = '.dev-jwt-secret';

/** A per-data-dir random secret so `npm run token` and the server agree in development. */
export function devSecret(dataDir: string): string {
  const file = join(dataDir, DEV_SECRET_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('hex');
  try {
    writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim(); // another process won
    throw err;
  }
}
