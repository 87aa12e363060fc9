import { EngineError } from '../../common/errors.js';
import type { ResolvedTarget } from '../../targets/targets.service.js';

/** Server error numbers and client codes that no retry can fix. */
const NON_RETRYABLE_ERRNO = new Set([1044, 1045, 1049, 1142, 1227, 1698, 2005]);
const NON_RETRYABLE = [
  /access denied/i,
  /unknown database/i,
  /couldn't find table/i,
  /unknown server host/i,
  /unknown (variable|option)/i,
  /unrecognized option/i,
  /doesn't exist/i,
  /insufficient privileges/i,
];

/**
 * Turns a `mysql2` error, or a client program's stderr and exit code, into an `EngineError` with
 * the one retry decision for MySQL errors; the password never appears in its message.
 */
export function classifyMysqlError(err: { message: string; errno?: number; code?: string } | string, target: Pick<ResolvedTarget, 'host' | 'port' | 'database' | 'password'>, code?: number | null): EngineError {
  const raw = typeof err === 'string' ? err : err.message;
  const errno = typeof err === 'string' ? errnoOf(raw) : err.errno ?? errnoOf(raw);
  const text = raw.replace(/^(mysqldump|mariadb-dump|mysql|mariadb): /gm, '').trim() || `the dump client exited with code ${code}`;
  const retryable = !(errno !== undefined && NON_RETRYABLE_ERRNO.has(errno)) && !NON_RETRYABLE.some((re) => re.test(text));
  let msg = `MySQL ${target.host}:${target.port}/${target.database}: ${text}`;
  if (target.password) msg = msg.split(target.password).join('***');
  return new EngineError(msg.slice(0, 2000), { retryable });
}

/** The server error number a client program printed (`ERROR 1045 (28000)`, `Got error: 1049:`). */
export function errnoOf(text: string): number | undefined {
  const m = /(?:error:?\s*|ERROR\s+)(\d{4})\b/i.exec(text);
  return m ? Number(m[1]) : undefined;
}
