import { InvalidArgumentError, type Command } from 'commander';
import type { CliContext } from './context.js';
import { describeFailure, Exit } from './exit.js';

/** Flags most commands share. */
export interface CommonFlags {
  json?: boolean;
  quiet?: boolean;
}

/**
 * One CLI command: what it is called and takes (`configure`), and what it does (`run`, which
 * returns the exit code or throws). The base adds the shared flags and turns the outcome into
 * output and an exit code, the same way for every command.
 */
export abstract class BaseCommand<Flags extends object = CommonFlags> {
  abstract readonly name: string;
  abstract readonly description: string;
  /** Positional arguments as commander spells them, e.g. `<backup-id>`. */
  readonly args?: string;
  readonly aliases: readonly string[] = [];
  /** Which shared flags it takes. */
  readonly common: { json?: boolean; quiet?: boolean } = { json: true };

  constructor(protected readonly cli: CliContext) {}

  /** Declares the command's own options. */
  protected abstract configure(cmd: Command): void;

  abstract run(args: string[], flags: Flags): Promise<number | void>;

  /** Adds this command under `parent`. */
  attach(parent: Command): Command {
    const cmd = parent.command(this.args ? `${this.name} ${this.args}` : this.name).description(this.description);
    this.aliases.forEach((a) => cmd.alias(a));
    this.configure(cmd);
    if (this.common.json) cmd.option('--json', 'Print the result as JSON on stdout (progress and errors go to stderr)');
    if (this.common.quiet) cmd.option('-q, --quiet', 'No progress output');
    cmd.action(async () => {
      process.exitCode = await execute(() => this.run(cmd.args, cmd.opts<Flags>()));
    });
    return cmd;
  }
}

/** Runs a command body; a thrown error is reported as `backup-manager: <reason>` with its exit code. */
export async function execute(body: () => Promise<number | void>): Promise<number> {
  try {
    return (await body()) ?? Exit.Ok;
  } catch (err) {
    const { code, message } = describeFailure(err);
    process.stderr.write(`backup-manager: ${message}\n`);
    return code;
  }
}

/** Prints a result: JSON for scripts, or the human lines. */
export function print(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

/** An option parser for a whole number in [min, max]; otherwise `message` (a usage error, exit 64). */
export function wholeNumber(min: number, max: number, message: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(message);
    return n;
  };
}
