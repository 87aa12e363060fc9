// `npm run docs:env`: rewrites the README's environment-variable table from the built variable
// table (dist/src/config/env-variables.js), so the README and the code cannot drift.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { writeReadmeEnvTable } = await import(join(ROOT, 'dist/src/config/readme-env.js'));
writeReadmeEnvTable(join(ROOT, 'README.md'));
