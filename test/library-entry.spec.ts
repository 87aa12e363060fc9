import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The packages a fresh node process has loaded after importing `entry` (from the build), by name. */
function loadedAfterImport(entry: string): string[] {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(join(ROOT, entry))});
    const names = new Set(Object.keys(createRequire(import.meta.url).cache)
      .map((p) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(p)?.[1]).filter(Boolean));
    process.stdout.write(JSON.stringify([...names]));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as string[];
}

describe('the package entry points', () => {
  it('the library entry loads no database driver and none of the service\'s own packages', () => {
    const loaded = loadedAfterImport('dist/src/index.js');
    expect(loaded).toEqual(expect.arrayContaining(['@nestjs/common', 'typeorm'])); // the check sees CommonJS packages
    expect(loaded.filter((n) => ['pg', 'mysql2', 'better-sqlite3', 'pino', 'pino-http', 'nest-commander', 'nestjs-pino'].includes(n))).toEqual([]);
  });

  it('loads a driver when a target of its engine is first used, and only that one', () => {
    const script = `
      import { createRequire } from 'node:module';
      const { pgClient } = await import(${JSON.stringify(join(ROOT, 'dist/src/engines/postgres/connection.js'))});
      pgClient({ host: '127.0.0.1', port: 1, user: 'u', database: 'd', passwordFile: undefined });
      const paths = Object.keys(createRequire(import.meta.url).cache);
      process.stdout.write(JSON.stringify({ pg: paths.some((p) => p.includes('/node_modules/pg/')), mysql2: paths.some((p) => p.includes('/node_modules/mysql2/')) }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }));
    expect(out).toEqual({ pg: true, mysql2: false });
  });

  it('the server entry brings the standalone service', () => {
    const loaded = loadedAfterImport('dist/src/server.js');
    expect(loaded).toEqual(expect.arrayContaining(['pino', 'pino-http']));
  });
});
