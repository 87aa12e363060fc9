import { Option, type Command } from 'commander';
import { BackupsService } from '../../backup/backups.service.js';
import { BackupType, GOOD_BACKUP_STATUSES, type BackupRecord } from '../../backup/entities/backup-record.entity.js';
import type { Compression } from '../../config/options.js';
import type { BackupScopeKind, DumpFormat } from '../../engines/engine.interface.js';
import { splitTableList } from '../../engines/table-names.js';
import { BaseCommand, print, wholeNumber, type CommonFlags } from '../base-command.js';
import { CliError, Exit, usageError } from '../exit.js';
import { Progress } from '../progress.js';
import { waitForJob } from '../wait-for-job.js';
import { lackingCopies, statusLine } from '../../backup/copy-health.js';
import { backupJson, copiesOf, describeBackup, estimateSize, FINAL_BACKUP_STATUSES } from './backup-output.js';
import { COMPRESSIONS, FORMATS, SCOPES } from '../../common/vocabulary.js';

interface CreateFlags extends CommonFlags {
  target: string;
  type: BackupType;
  compression?: Compression;
  description?: string;
  scope?: BackupScopeKind;
  tables?: string[];
  schemaOnly?: boolean;
  dataOnly?: boolean;
  format?: DumpFormat;
  retentionDays?: number;
  storages?: string[];
  wait?: boolean;
  inline?: boolean;
}

/** `backup create`: enqueue a backup (and wait with --wait), or run it here with --inline. */
export class BackupCreateCommand extends BaseCommand<CreateFlags> {
  readonly name = 'create';
  readonly description = 'Back up a target: enqueue it (and wait with --wait), or run it here with --inline';
  override readonly common = { json: true, quiet: true };

  protected configure(cmd: Command): void {
    cmd
      .requiredOption('-t, --target <name>', 'Configured target (BACKUP_TARGET_<NAME>_URL)', (v: string) => v.toLowerCase())
      .addOption(new Option('--type <type>', 'manual, daily, weekly or monthly').choices(Object.values(BackupType)).default(BackupType.Manual))
      .addOption(new Option('-c, --compression <codec>', 'zstd, gzip or none (default: BACKUP_COMPRESSION)').choices(COMPRESSIONS))
      .option('-d, --description <text>', 'Free text kept with the backup')
      .addOption(new Option('--scope <scope>', "full (default), partial (the target's core tables) or selective (--tables)").choices(SCOPES))
      .option(
        '--tables <names>',
        'Comma-separated tables, named as GET /api/v1/targets/{name}/tables lists them, e.g. \'orders,"Mixed Case",sales."a.b"\' (a comma inside double quotes is part of the name; implies --scope selective)',
        splitTableList,
      )
      .option('--schema-only', 'Table definitions without rows')
      .option('--data-only', 'Rows without table definitions')
      .addOption(new Option('--format <format>', 'PostgreSQL: plain (psql) or custom (pg_restore; default BACKUP_PG_FORMAT)').choices(FORMATS))
      .option('--retention-days <n>', 'Days to keep the backup (1-36500); sets its expiry', wholeNumber(1, 36500, '--retention-days must be a whole number of days from 1 to 36500'))
      .option('--storages <names>', "Comma-separated destinations (GET /api/v1/storages), e.g. local,offsite (default: the target's BACKUP_TARGET_<NAME>_STORAGES, else BACKUP_STORAGES)", (v: string) => v.split(',').map((n) => n.trim().toLowerCase()).filter(Boolean))
      .option('-w, --wait', 'Wait until the backup is COMPLETED or FAILED (exit 0 or 1; 2 when it is usable but degraded: a destination lacks its copy)')
      .option('--inline', 'Run the backup in this process, without Redis (implies --wait)');
  }

  async run(_: string[], o: CreateFlags): Promise<number> {
    if (o.schemaOnly && o.dataOnly) throw usageError('--schema-only and --data-only exclude each other: the backup would hold nothing; drop one of them');
    if (o.tables && !o.tables.length) throw usageError('--tables needs at least one table name, e.g. --tables orders,customers');
    const { ctx, queue } = await this.cli.forJob(o.inline);
    const backups = ctx.get(BackupsService, { strict: false });
    const estimate = o.wait || o.inline ? await estimateSize(ctx, o.target) : undefined;
    const { record, created } = await backups.submit({
      target: o.target,
      type: o.type,
      compression: o.compression,
      description: o.description,
      // --tables alone means "just these tables".
      scope: o.scope ?? (o.tables ? 'selective' : undefined),
      tables: o.tables,
      includeSchema: o.dataOnly ? false : undefined,
      includeData: o.schemaOnly ? false : undefined,
      format: o.format,
      retentionDays: o.retentionDays,
      storages: o.storages,
      triggeredBy: 'cli',
      // An inline run runs its own record here and now; a queued one may share an identical waiting one.
      reuseQueued: !o.inline,
    });
    if (!created) process.stderr.write(`backup-manager: an identical backup of ${record.target} is already queued: ${record.id} (no new one queued)\n`);
    if (!o.wait && !o.inline) {
      print(o.json, record, () => `${record.id}  QUEUED  target=${record.target}  (a worker runs it; follow with: backup list, or pass --wait)`);
      return Exit.Ok;
    }
    const progress = new Progress(`backup ${record.id.slice(0, 8)} of ${record.target}`, { stream: process.stderr, total: estimate, quiet: o.quiet });
    let status: string = record.status;
    const final: BackupRecord = await waitForJob(queue, record.id, {
      progress,
      signal: this.cli.abort.signal,
      bytes: (p) => Number(p.rawBytes ?? p.bytes ?? 0),
      settle: async () => {
        const r = await backups.get(record.id, { withDeleted: true });
        status = r.status;
        return FINAL_BACKUP_STATUSES.includes(r.status) ? r : undefined;
      },
      stopped: () => `stopped waiting; backup ${record.id} is ${status} and continues in the queue`,
    });
    const copies = await copiesOf(ctx, final.id);
    progress.finish(`backup ${final.id} ${statusLine(final, copies)}`);
    print(o.json, backupJson(final, copies), () => describeBackup(final, copies));
    // Usable, but a destination lacks its copy: scripts that alert on failure hear of it too.
    const lacking = lackingCopies(final, copies);
    if (lacking.length) {
      process.stderr.write(`backup-manager: backup ${final.id} is ${final.status} but degraded: ${lacking.map((c) => `${c.storage} ${c.state}`).join(', ')}; it restores from its other copies and a re-copy job repairs the rest\n`);
      return Exit.Degraded;
    }
    if (GOOD_BACKUP_STATUSES.includes(final.status)) return Exit.Ok;
    throw new CliError(`backup ${final.id} ${final.status}: ${final.errorMessage ?? 'no reason recorded'}`, Exit.Failed);
  }
}
