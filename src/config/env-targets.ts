import { existsSync } from 'node:fs';
import { restoreDatabasesProblems } from '../common/database-names.js';
import { splitTableList } from '../engines/table-names.js';
import type { Env } from './env-files.js';
import type { StorageDestinationOptions, TargetOptions } from './options.js';

// The variable families named per target and per storage destination: `BACKUP_TARGET_<NAME>_*`, `BACKUP_STORAGE_<NAME>_*`.

const TARGET_URL = /^BACKUP_TARGET_([A-Z0-9_]+)_URL$/;
const STORAGE_URL = /^BACKUP_STORAGE_([A-Z0-9_]+)_URL$/;

/** `BACKUP_TARGET_<NAME>_MAX_AGE_HOURS`: per-target freshness limit (0 = not checked). */
export function parseTargetMaxAges(env: Env, targets: TargetOptions[], problems: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of targets) {
    const name = `BACKUP_TARGET_${t.name.toUpperCase()}_MAX_AGE_HOURS`;
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) problems.push(`${name} must be a whole number of hours, 0 or more (got "${raw}")`);
    else out[t.name] = n * 3600_000;
  }
  return out;
}

/** `BACKUP_STORAGE_<NAME>_URL` and its key variables: the named destinations (checked by `validateOptions`). */
export function parseStorages(env: Env): StorageDestinationOptions[] {
  const out: StorageDestinationOptions[] = [];
  for (const key of Object.keys(env).sort()) {
    const m = STORAGE_URL.exec(key);
    if (!m) continue;
    out.push({
      name: m[1].toLowerCase(),
      url: env[key] ?? '',
      accessKeyId: env[`BACKUP_STORAGE_${m[1]}_ACCESS_KEY_ID`] || undefined,
      secretAccessKeyFile: env[`BACKUP_STORAGE_${m[1]}_SECRET_ACCESS_KEY_FILE`] || undefined,
    });
  }
  return out;
}

export function parseTargets(env: Env, problems: string[]): TargetOptions[] {
  const targets: TargetOptions[] = [];
  for (const key of Object.keys(env).sort()) {
    const m = TARGET_URL.exec(key);
    if (!m) continue;
    const name = m[1].toLowerCase();
    const raw = env[key] ?? '';
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      problems.push(`${key} is not a URL (expected postgres://user:pass@host:port/db or mysql://...)`);
      continue;
    }
    const engine = url.protocol === 'postgres:' || url.protocol === 'postgresql:' ? 'postgres'
      : url.protocol === 'mysql:' || url.protocol === 'mariadb:' ? 'mysql' : undefined;
    if (!engine) {
      problems.push(`${key} must use postgres:// or mysql:// (got ${url.protocol}//)`);
      continue;
    }
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (!database) problems.push(`${key} names no database (add /dbname to the URL)`);
    const user = decodeURIComponent(url.username) || (engine === 'postgres' ? 'postgres' : 'root');
    const passwordFile = env[`BACKUP_TARGET_${m[1]}_PASSWORD_FILE`] || undefined;
    if (passwordFile && !existsSync(passwordFile)) {
      problems.push(`BACKUP_TARGET_${m[1]}_PASSWORD_FILE names a file that does not exist: ${passwordFile}`);
    }
    const core = env[`BACKUP_TARGET_${m[1]}_CORE_TABLES`];
    const encryptRaw = env[`BACKUP_TARGET_${m[1]}_ENCRYPT`]?.trim().toLowerCase();
    let encrypt: boolean | undefined;
    if (encryptRaw && ['1', 'true', 'yes', 'on'].includes(encryptRaw)) encrypt = true;
    else if (encryptRaw && ['0', 'false', 'no', 'off'].includes(encryptRaw)) encrypt = false;
    else if (encryptRaw) problems.push(`BACKUP_TARGET_${m[1]}_ENCRYPT must be true or false (got "${encryptRaw}")`);
    const restoreDatabases = (env[`BACKUP_TARGET_${m[1]}_RESTORE_DATABASES`] ?? '').split(',').map((d) => d.trim()).filter(Boolean);
    const storages = (env[`BACKUP_TARGET_${m[1]}_STORAGES`] ?? '').split(',').map((d) => d.trim()).filter(Boolean);
    for (const p of restoreDatabasesProblems(restoreDatabases)) problems.push(`BACKUP_TARGET_${m[1]}_RESTORE_DATABASES: ${p}`);
    targets.push({
      name,
      engine,
      host: url.hostname || '127.0.0.1',
      port: url.port ? Number(url.port) : engine === 'postgres' ? 5432 : 3306,
      user,
      database,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      passwordFile,
      coreTables: core ? splitTableList(core) : undefined,
      restoreDatabases: restoreDatabases.length ? restoreDatabases : undefined,
      storages: storages.length ? storages : undefined,
      ...(encrypt !== undefined ? { encrypt } : {}),
    });
  }
  return targets;
}
