import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/processes.js';

/**
 * The npm scripts run the built code (no compile on every call), refuse a missing or stale dist/
 * with a clear message, and the CLI's --json output parses as the README runs it.
 */
const scratch = mkdtempSync(join(tmpdir(), 'bm-scripts-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of scripts/run-built.mjs in a scratch repository with one entry and one source file. */
function fakeRepo(name: string): { root: string; run: (...args: string[]) => ReturnType<typeof spawnSync> } {
  const root = join(scratch, name);
  mkdirSync(join(root, 'scripts'), { recursive: true });
  mkdirSync(join(root, 'src'), { recursive: true });
  copyFileSync(join(ROOT, 'scripts', 'run-built.mjs'), join(root, 'scripts', 'run-built.mjs'));
  writeFileSync(join(root, 'src', 'entry.ts'), 'export {};\n');
  return {
    root,
    run: (...args) => spawnSync(process.execPath, [join(root, 'scripts', 'run-built.mjs'), 'dist/entry.js', ...args], { encoding: 'utf8' }),
  };
}

describe('scripts/run-built.mjs', () => {
  it('refuses a missing build with a clear message', () => {
    const r = fakeRepo('missing').run();
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: 'backup-manager: dist/entry.js does not exist: run `npm run build` first (npm start builds too)\n' });
  });

  it('refuses a build older than a source file, naming it', () => {
    const repo = fakeRepo('stale');
    mkdirSync(join(repo.root, 'dist'));
    writeFileSync(join(repo.root, 'dist', 'entry.js'), 'process.stdout.write("ran")\n');
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(repo.root, 'dist', 'entry.js'), past, past);
    const r = repo.run();
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
      status: 1,
      stdout: '',
      stderr: 'backup-manager: dist/entry.js is older than src/entry.ts: run `npm run build` (npm start builds too)\n',
    });
  });

  it('runs a fresh build in this process with its own arguments, exit code and output', () => {
    const repo = fakeRepo('fresh');
    mkdirSync(join(repo.root, 'dist'));
    writeFileSync(join(repo.root, 'dist', 'entry.js'), 'process.stdout.write(JSON.stringify(process.argv.slice(2)) + "\\n"); process.exitCode = 3;\n');
    const r = repo.run('--json', 'a b');
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 3, stdout: '["--json","a b"]\n', stderr: '' });
  });
});

describe('npm run scripts of this repository', () => {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DATA_DIR: join(scratch, 'data'),
    JWT_SECRET: 'x'.repeat(40),
    REDIS_URL: 'redis://127.0.0.1:1',
  };
  const npm = (...args: string[]) => spawnSync('npm', args, { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });

  it('run the built code without compiling (dist/ is left as it was)', () => {
    const before = statSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')).mtimeMs;
    const token = npm('run', '--silent', 'token', '--', '--role', 'admin', '--sub', 'alice');
    expect({ status: token.status, stderr: token.stderr }).toEqual({ status: 0, stderr: '' });
    expect(token.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(statSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')).mtimeMs).toBe(before);
  });

  it('npm ls --all exits 0: no invalid peer, missing or extraneous package (nest-commander and its Nest 11 peer are gone)', () => {
    const r = npm('ls', '--all');
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).not.toMatch(/nest-commander|@golevelup/);
    expect(r.stdout).toMatch(/commander@11\./);
  });

  it("the README's CLI line prints JSON that parses as it stands", () => {
    const line = /^npm run --silent cli -- backup list --json.*$/m.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'))?.[0];
    expect(line).toBe("npm run --silent cli -- backup list --json | node -p 'JSON.parse(fs.readFileSync(0)).total'");
    // The command part alone: stdout is one JSON document.
    const r = npm(...line!.split(' | ')[0].split(' ').slice(1));
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ items: [], total: 0, page: 1 });
    // And the whole line, pipe included, as a shell runs it.
    const piped = spawnSync('bash', ['-c', line!], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
    expect({ status: piped.status, stdout: piped.stdout, stderr: piped.stderr }).toEqual({ status: 0, stdout: '0\n', stderr: '' });
  });
});
