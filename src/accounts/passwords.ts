import bcrypt from 'bcryptjs';

/** bcrypt cost: 2^12 rounds, about a quarter of a second per hash in pure JavaScript. */
export const BCRYPT_COST = 12;
/** bcrypt reads at most 72 bytes of a password; a longer one would be cut silently, so it is refused. */
export const MAX_PASSWORD_BYTES = 72;
export const MIN_PASSWORD_LENGTH = 12;

/** Why `password` may not be used for `username`, or undefined. */
export function passwordProblem(password: string, username: string): string | undefined {
  if (typeof password !== 'string' || [...password].length < MIN_PASSWORD_LENGTH) return `the password must have at least ${MIN_PASSWORD_LENGTH} characters`;
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return `the password may have at most ${MAX_PASSWORD_BYTES} bytes (UTF-8)`;
  if (/[\u0000-\u001f\u007f]/.test(password)) return 'the password may not hold control characters (line breaks, tabs)';
  if (password.toLowerCase().includes(username.toLowerCase())) return 'the password may not contain the username';
  return undefined;
}

export function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, BCRYPT_COST);
}

export function checkPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(password, hash);
}
