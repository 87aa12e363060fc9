import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/processes.js';
import { parseYaml, type Yaml } from './support/yaml-subset.js';

/**
 * docker-compose.yml, the Dockerfile and .dockerignore, read (no Docker engine runs here): the
 * compose file's structure, and every image, path, secret and variable it names checked against
 * the Dockerfile, the repository, the README and the configuration the service reads.
 */
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');
const compose = parseYaml(read('docker-compose.yml')) as Record<string, any>;
const dockerfile = read('Dockerfile');
const readme = read('README.md');
const services = compose.services as Record<string, Record<string, any>>;
const APP = ['api', 'worker'];

/** Variables documented in the README's configuration table; `<NAME>` stands for any target name. */
function documentedVariables(): RegExp[] {
  const rows = readme.split('\n').filter((l) => /^\| `[A-Z]/.test(l));
  const names = rows.flatMap((r) => [...r.split('|')[1].matchAll(/`([A-Z][A-Z0-9_<>]*)`/g)].map((m) => m[1]));
  return names.map((n) => new RegExp(`^${n.replace(/<NAME>/g, '[A-Z0-9_]+')}$`));
}

/** Whether the service's own code reads a variable (the config loader or an entrypoint). */
function readByService(name: string): boolean {
  const code = ['src/config/env.ts', 'src/config/env-files.ts', 'src/config/env-settings.ts', 'src/config/env-targets.ts', 'src/config/env-variables.ts', 'src/main.ts', 'src/worker.ts'].map(read).join('\n');
  const target = /^BACKUP_TARGET_[A-Z0-9_]+?(_URL|_PASSWORD_FILE|_CORE_TABLES|_MAX_AGE_HOURS)$/.exec(name);
  const storage = /^BACKUP_STORAGE_[A-Z0-9_]+?(_URL|_ACCESS_KEY_ID|_SECRET_ACCESS_KEY_FILE)$/.exec(name);
  if (storage) return code.includes(`_${storage[1].slice(1)}`);
  return target ? code.includes(`_${target[1].slice(1)}`) : new RegExp(`['"\`.]${name}\\b`).test(code);
}

/** `.dockerignore` as Docker applies it to a path: the last matching pattern wins; a match on a directory covers what is under it. */
function dockerIgnored(path: string): boolean {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const toRegex = (p: string) =>
    new RegExp(
      `^${p
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) => ({ '**/': '(.*/)?', '**': '.*', '*': '[^/]*', '?': '[^/]' })[part] ?? part.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
        .join('')}$`,
    );
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const re = toRegex(negate ? raw.slice(1) : raw);
    if (prefixes.some((p) => re.test(p))) ignored = !negate;
  }
  return ignored;
}

const env = (service: string) => (services[service].environment ?? {}) as Record<string, string | number | boolean>;

describe('docker-compose.yml', () => {
  it('parses, with the expected services, each with an image or a build and a healthcheck', () => {
    expect(Object.keys(compose).filter((k) => !k.startsWith('x-')).sort()).toEqual(['secrets', 'services', 'volumes']);
    expect(Object.keys(services).sort()).toEqual(['api', 'mariadb', 'minio', 'postgres', 'redis', 'worker']);
    for (const [name, s] of Object.entries(services)) {
      expect({ name, image: typeof s.image }).toEqual({ name, image: 'string' });
      const test = s.healthcheck?.test as string[] | undefined;
      expect({ name, healthcheck: Array.isArray(test) && ['CMD', 'CMD-SHELL'].includes(test[0]) }).toEqual({ name, healthcheck: true });
    }
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, how] of Object.entries((s.depends_on ?? {}) as Record<string, { condition: string }>)) {
        expect(services[dep]).toBeDefined();
        expect({ name, dep, condition: how.condition, depHasHealthcheck: !!services[dep].healthcheck }).toEqual({
          name,
          dep,
          condition: 'service_healthy',
          depHasHealthcheck: true,
        });
      }
    }
  });

  it("builds the app image from this Dockerfile, with the PostgreSQL client of the postgres image's major", () => {
    const pgMajor = /^postgres:(\d+)/.exec(services.postgres.image)![1];
    const dockerfileDefault = /^ARG PG_MAJOR=(\d+)$/m.exec(dockerfile)?.[1];
    expect(dockerfileDefault).toBe(pgMajor);
    for (const s of APP) {
      expect(services[s].build).toEqual({ context: '.', args: { PG_MAJOR: pgMajor } });
      expect(services[s].image).toBe('backup-manager:local');
    }
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
    // From the PostgreSQL project's apt repository, that very major, and checked at build time.
    expect(dockerfile).toMatch(/https:\/\/apt\.postgresql\.org\/pub\/repos\/apt bookworm-pgdg main/);
    expect(dockerfile).toMatch(/postgresql-client-\$\{PG_MAJOR\}/);
    expect(dockerfile).toMatch(/\/usr\/lib\/postgresql\/\$\{PG_MAJOR\}\/bin\/pg_dump --version/);
    expect(dockerfile).not.toMatch(/install[^\n]*\bpostgresql-client\s/);
    // The README names every image the stack runs.
    expect(Object.values(services).map((s) => s.image as string).filter((image) => !readme.includes(`\`${image}\``))).toEqual([]);
  });

  it('mounts the storage volume where the image created it, owned by node, and stores artifacts there', () => {
    for (const s of APP) {
      const mounts = services[s].volumes as string[];
      expect(mounts).toEqual(['backups:/data/backups']);
      expect(env(s).STORAGE_DIR).toBe('/data/backups');
    }
    expect(Object.keys(compose.volumes)).toContain('backups');
    expect(dockerfile).toMatch(/^RUN mkdir -p \/data\/backups \/data\/tmp && chown -R node:node \/data && chmod -R 700 \/data$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    // Every bind mount exists in the repository; the catalog database the init script creates is CATALOG_URL's.
    for (const s of Object.values(services)) {
      for (const m of (s.volumes ?? []) as string[]) {
        if (m.startsWith('./')) expect({ m, exists: existsSync(join(ROOT, m.split(':')[0])) }).toEqual({ m, exists: true });
        else expect(Object.keys(compose.volumes)).toContain(m.split(':')[0]);
      }
    }
    const catalogDb = /\/([a-z_]+)$/.exec(String(env('api').CATALOG_URL))![1];
    expect(read('docker/postgres-init.sql')).toMatch(new RegExp(`CREATE DATABASE ${catalogDb};`));
  });

  it('passes every password as a file: no password inside a URL or a plain variable', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries((s.environment ?? {}) as Record<string, unknown>)) {
        expect({ name, key, inlinePassword: /:\/\/[^/@\s]*:[^/@\s]*@/.test(String(value)) }).toEqual({ name, key, inlinePassword: false });
        expect({ name, key, plainPasswordVariable: /PASSWORD$/.test(key) }).toEqual({ name, key, plainPasswordVariable: false });
      }
      // Each /run/secrets/<x> named is a secret this service gets, declared at the top level.
      for (const value of Object.values((s.environment ?? {}) as Record<string, unknown>)) {
        const secret = /^\/run\/secrets\/(.+)$/.exec(String(value))?.[1];
        if (!secret) continue;
        expect({ name, secret, given: (s.secrets ?? []).includes(secret) }).toEqual({ name, secret, given: true });
        expect(Object.keys(compose.secrets)).toContain(secret);
      }
    }
    for (const s of APP) expect(env(s).CATALOG_PASSWORD_FILE).toBe('/run/secrets/postgres_password');
    // The variables the secrets come from are the ones the header comment tells the user to set.
    const header = read('docker-compose.yml').split('\n').filter((l) => l.startsWith('#')).join(' ');
    for (const s of Object.values(compose.secrets as Record<string, { environment: string }>)) expect(header).toContain(s.environment);
  });

  it('names only variables the README documents and the service reads', () => {
    const documented = documentedVariables();
    for (const s of APP) {
      for (const key of Object.keys(env(s))) {
        expect({ service: s, key, documented: documented.some((re) => re.test(key)) }).toEqual({ service: s, key, documented: true });
        expect({ service: s, key, read: readByService(key) }).toEqual({ service: s, key, read: true });
      }
    }
  });

  it('checks readiness: the API through /health/ready on its port, a worker through the file it keeps fresh', () => {
    const api = services.api;
    expect(api.ports).toEqual([`${env('api').PORT}:${env('api').PORT}`]);
    expect(api.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${env('api').PORT}/health/ready`);
    expect(read('src/app.module.ts')).toMatch(/@Controller\('health'\)[\s\S]*@Get\('ready'\)/);
    const worker = services.worker;
    expect(worker.command).toEqual(['node', '--max-semi-space-size=2', '--heap-growing-percent=20', '--optimize-for-size', 'dist/src/worker.js']);
    expect(existsSync(join(ROOT, 'src/worker.ts'))).toBe(true);
    const file = String(env('worker').HEALTH_FILE);
    expect(file.startsWith('/data/tmp/')).toBe(true); // a directory the image creates for node
    expect(worker.healthcheck.test.join(' ')).toContain(`statSync('${file}')`);
    expect(/^CMD \["node", "dist\/src\/main\.js"\]$/m.test(dockerfile) && existsSync(join(ROOT, 'src/main.ts'))).toBe(true);
  });
});

describe('the Docker build context', () => {
  it('sends what the Dockerfile copies and nothing heavy (node_modules, data, dist, .git)', () => {
    for (const heavy of ['node_modules/typeorm/index.js', 'data/catalog.sqlite', 'dist/src/main.js', '.git/HEAD', 'bench/results/x.json', 'test/cli.e2e.spec.ts']) {
      expect({ heavy, ignored: dockerIgnored(heavy) }).toEqual({ heavy, ignored: true });
    }
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(copied.length).toBeGreaterThan(5);
    for (const src of copied) {
      expect({ src, exists: existsSync(join(ROOT, src)), ignored: dockerIgnored(src) }).toEqual({ src, exists: true, ignored: false });
    }
    expect(dockerIgnored('src/main.ts')).toBe(false);
    expect(dockerIgnored('src/backup/backup-progress.spec.ts')).toBe(true);
  });
});

describe('the strict YAML reader', () => {
  it('reads anchors, merge keys, flow collections and quoting as YAML does, and refuses what it does not know', () => {
    const doc = parseYaml(['a: &x', '  k: 1', '  s: "q: #"', 'b:', '  <<: *x', '  k: 2', 'c: [x, "y, z", { d: e }]', "e: 'it''s' # note", '- no'].slice(0, 8).join('\n'));
    expect(doc).toEqual({ a: { k: 1, s: 'q: #' }, b: { k: 2, s: 'q: #' }, c: ['x', 'y, z', { d: 'e' }], e: "it's" } as Yaml);
    expect(() => parseYaml('a: 1\na: 2')).toThrow('line 2: duplicate key "a"');
    expect(() => parseYaml('a: |\n  text')).toThrow(/block scalars/);
    expect(() => parseYaml('a:\n\tb: 1')).toThrow(/tab/);
    expect(() => parseYaml('a: b: c')).toThrow(/ambiguous/);
  });
});
