import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { findExecutable } from './executables.js';

export interface SpawnOptions {
  env: Record<string, string>;
  stdio?: StdioOptions;
  cwd?: string;
}

/**
 * util-linux's `setpriv`, which sets the parent-death signal and then execs the real command:
 * resolved once; undefined where it is not installed (then children can outlive a killed worker).
 */
const SETPRIV = findExecutable(['setpriv']);

/**
 * The one home of child processes: argv arrays only (never a shell), a minimal environment
 * (never the parent's), and every live child killed when the application shuts down.
 *
 * Children are also killed when this process dies without shutting down (SIGKILL, OOM): each is
 * started through `setpriv --pdeathsig KILL`, so the kernel sends it SIGKILL when its parent goes.
 * Without that, `pg_dump | zstd > file` runs on after its worker is killed: neither of them
 * writes to the worker, so no broken pipe would stop them.
 */
@Injectable()
export class ProcessRunner implements OnApplicationShutdown {
  private readonly logger = new Logger(ProcessRunner.name);
  private readonly live = new Set<ChildProcess>();

  constructor() {
    if (!SETPRIV) this.logger.warn('setpriv (util-linux) is not installed: a worker killed with SIGKILL leaves its dump and zstd processes running until they finish');
  }

  spawn(command: string, args: string[], opts: SpawnOptions): ChildProcess {
    const [file, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
    const child = spawn(file, argv, {
      shell: false,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...opts.env },
      stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
      cwd: opts.cwd,
    });
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    child.once('error', () => this.live.delete(child));
    return child;
  }

  /** Resolves with exit code and the tail of stderr once the child has exited. */
  wait(child: ChildProcess, stderrLimit = 8192): Promise<{ code: number | null; signal: string | null; stderr: string }> {
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      stderr = (stderr + d).slice(-stderrLimit);
    });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal, stderr: stderr.trim() }));
    });
  }

  /**
   * Runs a short command (a `--version` query) to its end: its trimmed stdout, or a rejection
   * naming the command and its last message when it exits non-zero.
   */
  async output(command: string, args: string[], env: Record<string, string> = {}): Promise<string> {
    const child = this.spawn(command, args, { env });
    let stdout = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      stdout += d;
    });
    const { code, signal, stderr } = await this.wait(child);
    if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr || 'no message'}`);
    return stdout.trim();
  }

  killAll(signal: NodeJS.Signals = 'SIGTERM'): void {
    for (const child of this.live) child.kill(signal);
  }

  onApplicationShutdown(): void {
    if (this.live.size) this.logger.warn(`killing ${this.live.size} child process(es) on shutdown`);
    this.killAll('SIGKILL');
  }
}
