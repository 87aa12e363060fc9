import type { Command } from 'commander';
import { FINAL_RESTORE_STATUSES, RestoreStatus, type RestoreRun } from '../../restore/entities/restore-run.entity.js';
import { RestoresService } from '../../restore/restores.service.js';
import { splitTableList } from '../../engines/table-names.js';
import { BaseCommand, print, type CommonFlags } from '../base-command.js';
import { CliError, Exit, usageError } from '../exit.js';
import { Progress } from '../progress.js';
import { checkBackupIdArg, resolveBackupId } from '../short-id.js';
import { waitForJob } from '../wait-for-job.js';

interface RestoreFlags extends CommonFlags {
  confirm?: boolean;
  targetDatabase?: string;
  force?: boolean;
  safetyBackup: boolean;
  inline?: boolean;
  wait: boolean;
  tables?: string[];
}

/** `restore <backup-id> --confirm`: replace a database's contents with a backup. */
export class RestoreCommand extends BaseCommand<RestoreFlags> {
  readonly name = 'restore';
  override readonly args = '<backup-id>';
  readonly description = 'Restore a backup into its target database (or --target-database); needs --confirm; <backup-id> may be the first characters of the id';
  override readonly common = { json: true, quiet: true };

  protected configure(cmd: Command): void {
    cmd
      .option('--confirm', 'Required: yes, replace the database contents')
      .option('--target-database <name>', 'Restore into this database of the target server instead')
      .option('--force', 'Restore a CORRUPTED backup anyway')
      .option('--no-safety-backup', 'Skip the safety backup taken before replacing a database')
      .option(
        '--tables <names>',
        'Restore only these tables out of the backup (the rest of the database is left alone): comma-separated, named as GET /api/v1/targets/{name}/tables lists them, e.g. \'orders,"Mixed Case",sales."a.b"\' (a comma inside double quotes is part of the name)',
        splitTableList,
      )
      .option('--no-wait', 'Return once queued')
      .option('--inline', 'Run here, without Redis');
  }

  async run([given]: string[], o: RestoreFlags): Promise<number> {
    if (!o.confirm) throw usageError('--confirm is required: a restore replaces the contents of the target database; add --confirm to go ahead');
    if (o.tables && !o.tables.length) throw usageError('--tables needs at least one table name, e.g. --tables orders,customers');
    checkBackupIdArg(given);
    const { ctx, queue } = await this.cli.forJob(o.inline);
    const id = await resolveBackupId(ctx, given);
    const restores = ctx.get(RestoresService, { strict: false });
    const run = await restores.request(id, { confirm: true, targetDatabase: o.targetDatabase, force: o.force, safetyBackup: o.safetyBackup ? undefined : false, tables: o.tables });
    if (!o.wait && !o.inline) {
      print(o.json, run, () => `${run.id}  QUEUED  restore of ${id} into ${run.target}/${run.database}`);
      return Exit.Ok;
    }
    const what = o.tables ? ` (tables ${o.tables.join(', ')})` : '';
    const progress = new Progress(`restore ${run.id.slice(0, 8)} into ${run.database}${what}`, { stream: process.stderr, quiet: o.quiet });
    let status: string = run.status;
    const final: RestoreRun = await waitForJob(queue, run.id, {
      progress,
      signal: this.cli.abort.signal,
      bytes: (p) => Number(p.bytes ?? p.rawBytes ?? 0),
      settle: async () => {
        const r = await restores.get(run.id);
        status = r.status;
        return FINAL_RESTORE_STATUSES.includes(r.status) ? r : undefined;
      },
      stopped: () => `stopped waiting; restore ${run.id} is ${status} and continues in the queue`,
    });
    progress.finish(`restore ${final.id} ${final.status}`);
    print(o.json, final, () => `${final.id}  ${final.status}  ${final.target}/${final.database}${final.errorMessage ? `\n  error: ${final.errorMessage}` : ''}`);
    if (final.status === RestoreStatus.Completed) return Exit.Ok;
    throw new CliError(`restore ${final.id} ${final.status}: ${final.errorMessage ?? 'no reason recorded'}`, Exit.Failed);
  }
}
