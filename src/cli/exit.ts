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
