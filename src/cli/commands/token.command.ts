import type { Command } from 'commander';
import { signToken } from '../../auth/token-verifier.js';
import { Role } from '../../auth/roles.js';
import { BaseCommand } from '../base-command.js';
import { usageError } from '../exit.js';

interface TokenFlags {
  role?: string;
  sub?: string;
  name?: string;
  expires?: string;
}

/** `token`: print a JWT for the API. */
export class TokenCommand extends BaseCommand<TokenFlags> {
  readonly name = 'token';
  readonly description = 'Print a JWT for the API, signed with JWT_SECRET';
  override readonly common = {};

  protected configure(cmd: Command): void {
    cmd
      .option('-r, --role <role>', 'viewer, operator or admin (default viewer)')
      .option('-s, --sub <id>', 'The user id the token names')
      .option('--name <name>', 'Display name')
      .option('--expires <span>', 'Lifetime, e.g. 12h, 7d (default 12h)');
  }

  async run(_: string[], o: TokenFlags): Promise<void> {
    const role = (o.role ?? Role.Viewer) as Role;
    if (!Object.values(Role).includes(role)) throw usageError(`--role must be one of ${Object.values(Role).join(', ')}`);
    if (!o.sub) throw usageError('--sub is required (the user id the token names), e.g. --sub alice');
    const { jwtSecret, issuer, audience, maxTokenLifetimeMs } = this.cli.loadConfig(true).options.auth;
    let token: string;
    try {
      token = signToken(jwtSecret, { sub: o.sub, role, name: o.name }, { expiresIn: o.expires ?? '12h', issuer, audience, maxLifetimeMs: maxTokenLifetimeMs });
    } catch (err) {
      throw usageError(`--expires ${o.expires}: ${(err as Error).message} (JWT_MAX_LIFETIME_HOURS)`);
    }
    process.stdout.write(token + '\n');
  }
}
