import { parseArgs } from 'node:util';
import { signToken } from '../auth/token-verifier.js';
import { Role } from '../auth/roles.js';
import { ConfigError, loadConfig } from '../config/env.js';

/** `npm run token -- --role admin --sub alice [--name "Alice"] [--expires 12h]`: prints a JWT alone. */
const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'viewer' },
    sub: { type: 'string' },
    name: { type: 'string' },
    expires: { type: 'string', default: '12h' },
  },
});
const role = values.role as Role;
if (!Object.values(Role).includes(role)) {
  process.stderr.write(`--role must be one of ${Object.values(Role).join(', ')}\n`);
  process.exit(64);
}
if (!values.sub) {
  process.stderr.write('--sub is required (the user id the token names)\n');
  process.exit(64);
}
try {
  const { options } = loadConfig(process.env, { roleOverride: 'api' });
  const { jwtSecret, issuer, audience, maxTokenLifetimeMs } = options.auth;
  process.stdout.write(signToken(jwtSecret, { sub: values.sub, role, name: values.name }, { expiresIn: values.expires!, issuer, audience, maxLifetimeMs: maxTokenLifetimeMs }) + '\n');
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  process.exit(78);
}
