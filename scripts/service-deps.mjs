// Prints `name@version` of the service's optional peer dependencies (pino, pino-http,
// better-sqlite3) as package-lock.json pins them: the Docker image installs exactly these after
// pruning the dev dependencies, since library users do not get them.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const names = Object.entries(pkg.peerDependenciesMeta ?? {})
  .filter(([, meta]) => meta.optional)
  .map(([name]) => name);
console.log(names.map((n) => `${n}@${lock.packages[`node_modules/${n}`].version}`).join(' '));
