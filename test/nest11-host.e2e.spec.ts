import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropQueueKeys, REDIS_URL } from './support/app.js';
import { createPgDatabase, dropPgDatabase } from './support/pg.js';
import { ROOT } from './support/processes.js';

/**
 * Issue 13 item 11: a Nest 11 host installs the package (no ERESOLVE) and runs it. The packed
 * package goes into a host under the OS temp directory whose Nest 11 packages are installed from
 * the npm registry once and reused while the package's dependencies stay the same.
 */
const NEST11 = {
  '@nestjs/common': '^11.1.0',
  '@nestjs/core': '^11.1.0',
  '@nestjs/platform-express': '^11.1.0',
  '@nestjs/swagger': '^11.2.0',
  '@nestjs/typeorm': '^12.0.2',
  '@nestjs/schedule': '^12.0.2',
  '@nestjs/event-emitter': '^12.0.1',
};

const npm = (cwd: string, args: string[]) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 540_000 });

describe('a Nest 11 host', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  const key = createHash('sha256').update(JSON.stringify([pkg.dependencies, pkg.peerDependencies, NEST11])).digest('hex').slice(0, 12);
  const host = join(tmpdir(), `bm-nest11-host-${key}`);
  const queuePrefix = `bmtest-n11-${randomBytes(4).toString('hex')}`;
  let db: string;
  let dataDir: string;

  beforeAll(async () => {
    db = await createPgDatabase('nest11');
    dataDir = mkdtempSync(join(tmpdir(), 'bm-n11-'));
    mkdirSync(host, { recursive: true });
    // The package as `npm publish` would ship it (dist is built by `npm test`).
    const packDir = mkdtempSync(join(tmpdir(), 'bm-pack-'));
    npm(ROOT, ['pack', '--ignore-scripts', '--silent', '--pack-destination', packDir]);
    copyFileSync(join(packDir, readdirSync(packDir)[0]), join(host, 'backup-manager.tgz'));
    rmSync(packDir, { recursive: true, force: true });
    const peers = Object.fromEntries(
      Object.entries(pkg.peerDependencies).filter(([n]) => !(n in NEST11) && !['pino', 'pino-http', 'better-sqlite3'].includes(n)),
    );
    writeFileSync(
      join(host, 'package.json'),
      JSON.stringify({ name: 'nest11-host', private: true, type: 'module', dependencies: { ...NEST11, ...peers, pg: pkg.dependencies.pg, 'backup-manager': 'file:./backup-manager.tgz' } }, null, 2),
    );
    copyFileSync(join(ROOT, 'test/support/nest11/host.mjs'), join(host, 'host.mjs'));
    // Without --legacy-peer-deps: a peer range the host cannot meet fails here with ERESOLVE.
    npm(host, ['install', '--no-audit', '--no-fund', '--loglevel=error']);
  }, 600_000);

  afterAll(async () => {
    await dropQueueKeys(queuePrefix);
    if (db) await dropPgDatabase(db);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('installs with one copy of Nest 11, boots the module, serves its routes and runs a backup', () => {
    const tree = JSON.parse(npm(host, ['ls', '--all', '--json', '@nestjs/common', '@nestjs/core'])) as object;
    const versions = new Set<string>();
    const walk = (n: { dependencies?: Record<string, { version?: string }> }) => {
      for (const [name, d] of Object.entries(n.dependencies ?? {})) {
        if ((name === '@nestjs/common' || name === '@nestjs/core') && d.version) versions.add(`${name}@${d.version.split('.')[0]}`);
        walk(d as never);
      }
    };
    walk(tree as never);
    expect([...versions].sort()).toEqual(['@nestjs/common@11', '@nestjs/core@11']);
    expect(existsSync(join(host, 'node_modules/backup-manager/node_modules/@nestjs/common'))).toBe(false);

    const settings = { database: db, secret: randomBytes(24).toString('hex'), redisUrl: REDIS_URL, queuePrefix, storageDir: join(dataDir, 'backups'), tempDir: join(dataDir, 'tmp') };
    const out = execFileSync(process.execPath, ['host.mjs'], { cwd: host, encoding: 'utf8', env: { ...process.env, HOST_SETTINGS: JSON.stringify(settings) }, timeout: 120_000 });
    const seen = JSON.parse(out.trim().split('\n').at(-1)!) as { nest: string; core: string; listStatus: number; backupStatus: string };
    expect(seen.nest).toMatch(/^11\./);
    expect(seen.core).toMatch(/^11\./);
    expect(seen.listStatus).toBe(200);
    expect(['COMPLETED', 'VERIFIED']).toContain(seen.backupStatus);
  }, 180_000);
});
