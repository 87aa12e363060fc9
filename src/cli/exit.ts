/** Exit codes scripts can rely on (sysexits-style where one fits). */
export const Exit = {
  Ok: 0,
  /** The operation ran and failed: backup FAILED/CORRUPTED, restore FAILED, verification not ok. */
  Failed: 1,
  /** Bad command line. */
  Usage: 64,
  /** The request was refused: unknown target or backup, missing --confirm, a conflict. */
  Refused: 65,
  /** Redis or the catalog could not be reached. */
  Unavailable: 69,
  /** Refused for now: the job queue is full (QUEUE_MAX_WAITING); try again later. */
  TryLater: 75,
  /** Invalid configuration (environment). */
  Config: 78,
  /** Interrupted (SIGINT/SIGTERM). */
  Interrupted: 130,
} as const;

/** An error the CLI reports as `backup-manager: <message>` on stderr, exiting with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/**
 * `value` if it is one of `allowed`, else a usage error (exit 64) naming the choices.
 * NOTE: nest-commander installs each `@Option` method as the option's parser, which replaces
 * commander's own `choices` check, so option parsers call this themselves.
 */
export function oneOf<T extends string>(allowed: readonly T[], value: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  // The code commander recognises as "invalid option argument" (its InvalidArgumentError).
  throw Object.assign(new Error(`Allowed choices are ${allowed.join(', ')}.`), { code: 'commander.invalidArgument' });
}
