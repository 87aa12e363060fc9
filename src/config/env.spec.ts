import { describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './env.js';

const base = { JWT_SECRET: 'x'.repeat(40), DATA_DIR: '/tmp/bm-config-spec' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('parses targets from BACKUP_TARGET_<NAME>_URL with decoded credentials', () => {
    const c = loadConfig({ ...base, BACKUP_TARGET_MAIN_DB_URL: 'postgres://app%40corp:p%3Aa%23ss@db.internal:6543/my%20db', BACKUP_TARGET_SHOP_URL: 'mysql://root@127.0.0.1/shop' });
    expect(c.options.targets).toEqual([
      expect.objectContaining({ name: 'main_db', engine: 'postgres', host: 'db.internal', port: 6543, user: 'app@corp', password: 'p:a#ss', database: 'my db' }),
      expect.objectContaining({ name: 'shop', engine: 'mysql', port: 3306, user: 'root', password: undefined, database: 'shop' }),
    ]);
  });

  it('reads encryption: inline recipients or a file of them, per-target switches, the default; refuses bad values', () => {
    const r = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
    const c = loadConfig({ ...base, BACKUP_ENCRYPTION_RECIPIENTS: `${r}, ${r}`, BACKUP_TARGET_APP_URL: 'postgres://u@h/app', BACKUP_TARGET_APP_ENCRYPT: 'false', BACKUP_TARGET_SHOP_URL: 'mysql://u@h/shop' });
    expect(c.options.encryption).toMatchObject({ recipients: [r, r], scryptWorkFactor: 18 });
    expect(c.options.encryption?.encryptByDefault).toBeUndefined();
    expect(c.options.targets.map((t) => [t.name, t.encrypt])).toEqual([['app', false], ['shop', undefined]]);
    expect(problems({ ...base, BACKUP_TARGET_APP_URL: 'postgres://u@h/app', BACKUP_TARGET_APP_ENCRYPT: 'maybe' })).toEqual(['BACKUP_TARGET_APP_ENCRYPT must be true or false (got "maybe")']);
    expect(problems({ ...base, BACKUP_ENCRYPTION_RECIPIENTS: '/nonexistent/recipients.txt' })).toEqual([
      'BACKUP_ENCRYPTION_RECIPIENTS the recipients file /nonexistent/recipients.txt cannot be read (ENOENT)',
    ]);
    expect(problems({ ...base, BACKUP_ENCRYPTION_DEFAULT: 'true' })).toEqual(['BACKUP_ENCRYPTION_DEFAULT is on, but no recipients and no passphrase file are set to encrypt to']);
    expect(problems({ ...base, BACKUP_ENCRYPTION_SCRYPT_WORK_FACTOR: '30' })).toEqual(['BACKUP_ENCRYPTION_SCRYPT_WORK_FACTOR must be an integer between 10 and 20 (got "30")']);
  });

  it('uses embedded defaults: SQLite catalog and storage under DATA_DIR, zstd, UTC', () => {
    const c = loadConfig(base);
    expect(c.options.catalog.url).toBeUndefined();
    expect(c.options.catalog.sqlitePath).toBe('/tmp/bm-config-spec/catalog.sqlite');
    expect(c.options.storageDir).toBe('/tmp/bm-config-spec/backups');
    expect(c.options.dump.defaultCompression).toBe('zstd');
    expect(c.options.timezone).toBe('UTC');
    expect(c.role).toBe('all');
    expect(c.options.workers && c.options.controllers).toBe(true);
  });

  it('names every bad or missing value at once', () => {
    const p = problems({
      DATA_DIR: '/tmp/x',
      PORT: 'eighty',
      APP_ROLE: 'boss',
      REDIS_URL: 'http://localhost',
      SCHEDULER_TIMEZONE: 'Mars/Olympus',
      BACKUP_COMPRESSION: 'brotli',
      BACKUP_TARGET_A_URL: 'oracle://x/y',
      BACKUP_TARGET_B_URL: 'not a url',
      BACKUP_TARGET_C_URL: 'postgres://u@h:5432/',
      BACKUP_TARGET_D_URL: 'postgres://u@h/db',
      BACKUP_TARGET_D_PASSWORD_FILE: '/nonexistent/pw',
    });
    expect(p.join('\n')).toEqual(expect.stringContaining('JWT_SECRET (or JWT_SECRET_FILE) is required'));
    for (const needle of ['PORT must be an integer', 'APP_ROLE must be one of all, api, worker', 'REDIS_URL must start with redis://', 'SCHEDULER_TIMEZONE/TZ is not an IANA time zone: "Mars/Olympus"', 'BACKUP_COMPRESSION must be one of zstd, gzip, none', 'BACKUP_TARGET_A_URL must use postgres:// or mysql://', 'BACKUP_TARGET_B_URL is not a URL', 'BACKUP_TARGET_C_URL names no database', 'BACKUP_TARGET_D_PASSWORD_FILE names a file that does not exist']) {
      expect(p.join('\n')).toContain(needle);
    }
  });

  it('refuses short secrets and starts without one only in the explicit dev mode', () => {
    expect(problems({ DATA_DIR: '/tmp/x', JWT_SECRET: 'short' })).toContain('JWT_SECRET must be at least 32 characters');
    const dir = `/tmp/bm-dev-${process.pid}`;
    const a = loadConfig({ DATA_DIR: dir, AUTH_DEV_MODE: 'true' });
    const b = loadConfig({ DATA_DIR: dir, AUTH_DEV_MODE: 'true' });
    expect(a.options.auth.devMode).toBe(true);
    expect(a.options.auth.jwtSecret).toHaveLength(64);
    expect(b.options.auth.jwtSecret).toBe(a.options.auth.jwtSecret);
    expect(a.devModeNotice).toContain(`generated into ${dir}/.dev-jwt-secret`);
    // Dev mode neither lowers the minimum nor claims a generated secret when one is given.
    expect(problems({ DATA_DIR: '/tmp/x', AUTH_DEV_MODE: 'true', JWT_SECRET: 'abc' })).toContain('JWT_SECRET must be at least 32 characters');
    const given = loadConfig({ ...base, AUTH_DEV_MODE: 'true' });
    expect(given.options.auth).toMatchObject({ jwtSecret: base.JWT_SECRET, devMode: false });
    expect(given.devModeNotice).toMatch(/^AUTH_DEV_MODE is on, but JWT_SECRET is set: tokens are signed with JWT_SECRET/);
    expect(loadConfig(base).devModeNotice).toBeUndefined();
  });

  it('reads TRUST_PROXY as a hop count or proxy addresses, off by default, never "trust everything"', () => {
    expect(loadConfig(base).trustProxy).toBe(false);
    expect(loadConfig({ ...base, TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ ...base, TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::/8, 192.0.2.7' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8', '192.0.2.7']);
    expect(problems({ ...base, TRUST_PROXY: 'true' }).join('\n')).toMatch(/TRUST_PROXY=true would trust any X-Forwarded-For/);
    expect(problems({ ...base, TRUST_PROXY: '10.0.0.0/33, proxy.local' }).join('\n')).toContain('TRUST_PROXY must be a hop count or a list of addresses, CIDR subnets and loopback/linklocal/uniquelocal (not: 10.0.0.0/33, proxy.local)');
  });

  it('derives process roles', () => {
    expect(loadConfig({ ...base, APP_ROLE: 'api' }).options).toMatchObject({ workers: false, controllers: true, scheduler: false });
    expect(loadConfig({ ...base }, { roleOverride: 'worker' }).options).toMatchObject({ workers: true, controllers: false });
  });

  it('needs no JWT secret for a worker, which serves no HTTP; the API and all-in-one still do', () => {
    const env = { DATA_DIR: '/tmp/bm-config-spec' };
    expect(loadConfig({ ...env, APP_ROLE: 'worker' }).options).toMatchObject({ workers: true, controllers: false });
    expect(loadConfig(env, { roleOverride: 'worker' }).options.controllers).toBe(false);
    for (const role of ['api', 'all']) expect(problems({ ...env, APP_ROLE: role })).toContain('JWT_SECRET (or JWT_SECRET_FILE) is required; for local development set AUTH_DEV_MODE=true');
  });

  it('checks the options every way in shares: cache root, crons, policies, time zone, target names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bm-config-'));
    try {
      const storage = join(dir, 'store');
      mkdirSync(storage);
      symlinkSync(storage, join(dir, 'alias'));
      const env = { ...base, DATA_DIR: join(dir, 'data'), STORAGE_DIR: storage };
      const one = (extra: Record<string, string>) => problems({ ...env, ...extra }).join('\n');
      expect(one({ CACHE_FILE_ROOT: dir })).toContain(`CACHE_FILE_ROOT must not be or contain ${storage}`);
      expect(one({ CACHE_FILE_ROOT: join(storage, 'cache') })).toContain(`CACHE_FILE_ROOT must not lie inside ${storage}`);
      expect(one({ CACHE_FILE_ROOT: join(dir, 'alias') })).toContain(`CACHE_FILE_ROOT must not be or contain ${storage}`);
      expect(one({ CACHE_FILE_ROOT: join(dir, 'alias', 'sub') })).toContain(`CACHE_FILE_ROOT must not lie inside ${storage}`);
      expect(one({ CACHE_REDIS_PREFIXES: 'ok:,backup-manager:' })).toContain("CACHE_REDIS_PREFIXES[1] must not overlap the job queue's keys");
      expect(one({ SCHEDULER_WEEKLY_CRON: 'every sunday' })).toContain('SCHEDULER_WEEKLY_CRON is not a valid cron expression ("every sunday"');
      expect(one({ RETENTION_CLEANUP_CRON: '61 * * * *' })).toContain('RETENTION_CLEANUP_CRON is not a valid cron expression');
      expect(one({ RESTORE_DRILL_CRON: '* * *' })).toContain('RESTORE_DRILL_CRON is not a valid cron expression');
      expect(one({ RETENTION_POLICIES: '[{"name":"odd","kind":"weird"}]' })).toContain('RETENTION_POLICIES: policy odd: kind must be one of tiered, per-type, age');
      expect(one({ RETENTION_DEFAULT_POLICY: 'nope' })).toContain('RETENTION_DEFAULT_POLICY names no policy: "nope"');
      expect(one({ TZ: 'Mars/Olympus' })).toContain('SCHEDULER_TIMEZONE/TZ is not an IANA time zone: "Mars/Olympus"');
      expect(one({ [`BACKUP_TARGET_${'X'.repeat(65)}_URL`]: 'postgres://u@h/db' })).toContain(`BACKUP_TARGET_${'X'.repeat(65)}_URL (name) must be 1 to 64`);
      expect(one({ TEMP_DIR: storage })).toContain('TEMP_DIR must differ from storageDir');
      // Each problem once, though the value is both parsed and checked.
      const twice = problems({ ...env, BACKUP_TARGET_C_URL: 'postgres://u@h:5432/' });
      expect(twice.filter((p) => p.startsWith('BACKUP_TARGET_C_URL'))).toEqual(['BACKUP_TARGET_C_URL names no database (add /dbname to the URL)']);
      expect(loadConfig({ ...env, CACHE_FILE_ROOT: join(dir, 'cache') }).options.cache?.fileRoot).toBe(join(dir, 'cache'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
