import { Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { AccountsService, type UserView } from '../../accounts/accounts.service.js';
import { Role, type Actor } from '../../auth/roles.js';
import { BaseCommand, print, type CommonFlags } from '../base-command.js';
import { usageError } from '../exit.js';
import { readSecret } from '../secret-input.js';

interface PasswordFlags extends CommonFlags {
  passwordFile?: string;
  role?: Role;
}

/** Who the audit trail names for accounts changed from the command line. */
function cliActor(): Actor {
  let who = 'unknown';
  try {
    who = userInfo().username;
  } catch {
    /* no passwd entry (some containers) */
  }
  return { sub: `cli:${who}`.slice(0, 128), role: Role.Admin, name: 'backup-manager CLI' };
}

/** The new password: from `--password-file`, else standard input (asked for twice on a terminal). Never from the command line. */
async function newPassword(file: string | undefined): Promise<string> {
  if (file) {
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw usageError(`--password-file ${file} could not be read (${err.code ?? err.message})`);
    });
    return text.replace(/\r?\n$/, '');
  }
  return readSecret('New password', { confirm: true });
}

function human(u: UserView): string {
  const state = u.disabled ? 'disabled' : u.lockedUntil && u.lockedUntil > new Date() ? `locked until ${u.lockedUntil.toISOString()}` : 'active';
  return `${u.username.padEnd(24)}  ${u.role.padEnd(8)}  ${state.padEnd(10)}  last login ${u.lastLoginAt ? u.lastLoginAt.toISOString() : 'never'}`;
}

abstract class UserCommand extends BaseCommand<PasswordFlags> {
  override readonly args = '<username>';

  protected accounts = async () => (await this.cli.offline()).get(AccountsService, { strict: false });
}

/** `user create <username> --role admin`: a dashboard account. */
export class UserCreateCommand extends UserCommand {
  readonly name = 'create';
  readonly description = 'Create a dashboard account; the password is read from standard input (asked twice on a terminal) or --password-file, never the command line';

  protected configure(cmd: Command): void {
    cmd
      .addOption(new Option('-r, --role <role>', 'viewer, operator or admin').choices(Object.values(Role)).makeOptionMandatory())
      .option('--password-file <path>', 'Read the password from this file (its final line break is dropped)');
  }

  async run([username]: string[], o: PasswordFlags): Promise<void> {
    const accounts = await this.accounts();
    const user = await accounts.createUser(username, o.role!, await newPassword(o.passwordFile), cliActor());
    print(o.json, user, () => `created ${user.username} (${user.role})`);
  }
}

/** `user reset-password <username>`: new password, unlocked, sessions ended. */
export class UserResetPasswordCommand extends UserCommand {
  readonly name = 'reset-password';
  readonly description = 'Set a new password (from standard input or --password-file); unlocks the account and ends its sessions';

  protected configure(cmd: Command): void {
    cmd.option('--password-file <path>', 'Read the password from this file (its final line break is dropped)');
  }

  async run([username]: string[], o: PasswordFlags): Promise<void> {
    const accounts = await this.accounts();
    const user = await accounts.resetPassword(username, await newPassword(o.passwordFile), cliActor());
    print(o.json, user, () => `new password set for ${user.username}; its sessions have ended`);
  }
}

/** `user disable <username>` / `user enable <username>`. */
export class UserDisableCommand extends UserCommand {
  constructor(
    cli: ConstructorParameters<typeof BaseCommand>[0],
    private readonly disable: boolean,
  ) {
    super(cli);
  }

  get name(): string {
    return this.disable ? 'disable' : 'enable';
  }

  get description(): string {
    return this.disable ? 'Disable an account: it cannot log in, its sessions end and its API tokens stop working' : 'Enable a disabled account again (and unlock it)';
  }

  protected configure(_cmd: Command): void {}

  async run([username]: string[], o: PasswordFlags): Promise<void> {
    const user = await (await this.accounts()).setDisabled(username, this.disable, cliActor());
    print(o.json, user, () => `${user.username} is ${user.disabled ? 'disabled' : 'enabled'}`);
  }
}

/** `user list`. */
export class UserListCommand extends BaseCommand<CommonFlags> {
  readonly name = 'list';
  override readonly aliases = ['ls'];
  readonly description = 'Dashboard accounts';

  protected configure(_cmd: Command): void {}

  async run(_: string[], o: CommonFlags): Promise<void> {
    const users = await (await this.cli.offline()).get(AccountsService, { strict: false }).listUsers();
    print(o.json, users, () => (users.length ? users.map(human).join('\n') : 'no users; create the first admin with `backup-manager user create <name> --role admin`'));
  }
}
