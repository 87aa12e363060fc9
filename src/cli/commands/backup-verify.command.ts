import type { Command } from 'commander';
import { BackupsService } from '../../backup/backups.service.js';
import { RestoresService } from '../../restore/restores.service.js';
import { BaseCommand, print, type CommonFlags } from '../base-command.js';
import { CliError, Exit } from '../exit.js';
import { Progress } from '../progress.js';
import { checkBackupIdArg, resolveBackupId } from '../short-id.js';
import { waitForJob } from '../wait-for-job.js';
import { backupJson, copiesOf, describeBackup } from './backup-output.js';

interface VerifyFlags extends CommonFlags {
  drill?: boolean;
  wait: boolean;
  inline?: boolean;
}

/** `backup verify <id>`: checksum and decompression, or a restore drill with --drill. */
export class BackupVerifyCommand extends BaseCommand<VerifyFlags> {
  readonly name = 'verify';
  override readonly args = '<id>';
  readonly description = 'Verify a backup (checksum and decompression), or restore-drill it with --drill; <id> may be the first characters of the id';
  override readonly common = { json: true, quiet: true };

  protected configure(cmd: Command): void {
    cmd
      .option('--drill', 'Restore into a throwaway database and compare tables and row counts')
      .option('--no-wait', 'Return once queued')
      .option('--inline', 'Run here, without Redis');
  }

  async run([given]: string[], o: VerifyFlags): Promise<number> {
    checkBackupIdArg(given);
    const { ctx, queue } = await this.cli.forJob(o.inline);
    const id = await resolveBackupId(ctx, given);
    const { jobId } = await ctx.get(RestoresService, { strict: false }).requestVerify(id, !!o.drill);
    if (!o.wait && !o.inline) {
      print(o.json, { backupId: id, drill: !!o.drill, jobId }, () => `verification queued (job ${jobId})`);
      return Exit.Ok;
    }
    const progress = new Progress(`${o.drill ? 'drill' : 'verify'} ${id.slice(0, 8)}`, { stream: process.stderr, quiet: o.quiet });
    const { result, failure } = await waitForJob<{ result?: unknown; failure?: string }>(queue, jobId, {
      progress,
      signal: this.cli.abort.signal,
      bytes: (p) => Number(p.rawBytes ?? p.bytes ?? 0),
      settle: async (job) =>
        !job ? { failure: 'the job is gone from the queue' }
        : job.state === 'completed' ? { result: job.result }
        : job.state === 'failed' ? { failure: job.failedReason ?? 'the job failed' }
        : undefined,
      stopped: () => `stopped waiting; verification ${jobId} continues in the queue`,
    });
    const record = await ctx.get(BackupsService, { strict: false }).get(id, { withDeleted: true });
    const verification = result as { ok?: boolean; reason?: string; skipped?: string } | undefined;
    const ok = !failure && !!verification && (verification.ok === true || !!verification.skipped);
    progress.finish(`${o.drill ? 'drill' : 'verification'} of ${id}: ${ok ? 'ok' : 'FAILED'}`);
    const copies = await copiesOf(ctx, id);
    const { degraded, failedDestinations } = backupJson(record, copies);
    print(o.json, { ok, backupId: id, status: record.status, degraded, failedDestinations, verification: verification ?? null, error: failure ?? null }, () => describeBackup(record, copies));
    if (ok) return Exit.Ok;
    throw new CliError(`verification of ${id} failed: ${failure ?? verification?.reason ?? record.errorMessage ?? 'unknown reason'}`, Exit.Failed);
  }
}
