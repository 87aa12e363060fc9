import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { BackupsService } from '../../backup/backups.service.js';
import { BackupRecord, BackupStatus, BackupType, GOOD_BACKUP_STATUSES } from '../../backup/entities/backup-record.entity.js';
import type { ListBackupsQuery } from '../../backup/dto/list-backups.dto.js';
import type { Compression } from '../../config/options.js';
import type { BackupScopeKind, DumpFormat } from '../../engines/engine.interface.js';
import { EnginesService } from '../../engines/engines.service.js';
import { splitTableList } from '../../engines/table-names.js';
import { JobsQueue } from '../../queue/jobs-queue.service.js';
import { RestoresService } from '../../restore/restores.service.js';
import { TargetsService } from '../../targets/targets.service.js';
import { COMPRESSIONS, FORMATS, SCOPES } from '../../common/vocabulary.js';
import { CliContext, pollUntil, print, runCommand } from '../context.js';
import { CliError, Exit, oneOf } from '../exit.js';
import { formatBytes, Progress } from '../progress.js';

const TERMINAL = [...GOOD_BACKUP_STATUSES, BackupStatus.Failed, BackupStatus.Cancelled, BackupStatus.Corrupted];

interface CommonFlags {
  json?: boolean;
  quiet?: boolean;
  inline?: boolean;
}

/** Shared option parsers (nest-commander reads `@Option` from the prototype chain). */
@Injectable()
abstract class BaseCommand extends CommandRunner {
  constructor(protected readonly cli: CliContext) {
    super();
  }

  @Option({ flags: '--json', description: 'Print the result as JSON on stdout (progress and errors go to stderr)' })
  parseJson(): boolean {
    return true;
  }

  @Option({ flags: '-q, --quiet', description: 'No progress output' })
  parseQuiet(): boolean {
    return true;
  }
}

/** Database size as the ETA's estimate; undefined when the target cannot be asked. */
async function estimateSize(ctx: INestApplicationContext, targetName: string): Promise<number | undefined> {
  try {
    const target = await ctx.get(TargetsService, { strict: false }).resolve(targetName);
    return (await ctx.get(EnginesService, { strict: false }).for(target.engine).stats(target)).sizeBytes || undefined;
  } catch {
    return undefined;
  }
}

export function describeBackup(r: BackupRecord): string {
  const size = r.sizeBytes != null ? formatBytes(Number(r.sizeBytes)) : '-';
  const lines = [`${r.id}  ${r.status}  target=${r.target}  type=${r.type}  size=${size}${r.durationMs != null ? `  ${(Number(r.durationMs) / 1000).toFixed(1)} s` : ''}`];
  if (r.fileKey) lines.push(`  file: ${r.fileKey}`);
  if (r.checksum) lines.push(`  sha256: ${r.checksum}`);
  if (r.errorMessage) lines.push(`  error: ${r.errorMessage}`);
  return lines.join('\n');
}

/** Polls the catalog (and the job's progress) until the backup leaves QUEUED/RUNNING. */
async function waitForBackup(ctx: INestApplicationContext, id: string, progress: Progress, signal: AbortSignal): Promise<BackupRecord> {
  const backups = ctx.get(BackupsService, { strict: false });
  const queue = ctx.get(JobsQueue, { strict: false });
  let status = '';
  return pollUntil(
    signal,
    async () => {
      const r = await backups.get(id, { withDeleted: true });
      if (TERMINAL.includes(r.status)) return r;
      status = r.status;
      const job = await queue.queue.getJob(id).catch(() => undefined);
      const p = (job?.progress ?? {}) as { rawBytes?: number; bytes?: number };
      progress.update(Number(p.rawBytes ?? p.bytes ?? 0), r.status);
      return undefined;
    },
    () => `stopped waiting; backup ${id} is ${status} and continues in the queue`,
  );
}

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
  wait?: boolean;
}

@SubCommand({ name: 'create', description: 'Back up a target: enqueue it (and wait with --wait), or run it here with --inline' })
export class BackupCreateCommand extends BaseCommand {
  async run(_: string[], o: CreateFlags): Promise<void> {
    await runCommand(() => this.create(o));
  }

  private async create(o: CreateFlags): Promise<number> {
    if (o.schemaOnly && o.dataOnly) throw new CliError('--schema-only and --data-only exclude each other: the backup would hold nothing', Exit.Usage);
    if (o.tables && !o.tables.length) throw new CliError('--tables needs at least one table name', Exit.Usage);
    if (o.retentionDays !== undefined && !(Number.isInteger(o.retentionDays) && o.retentionDays >= 1 && o.retentionDays <= 36500)) {
      throw new CliError('--retention-days must be a whole number of days from 1 to 36500', Exit.Usage);
    }
    const { ctx, queue: inlineQueue } = await this.cli.forJob(o.inline);
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
      triggeredBy: 'cli',
      // An inline run runs its own record here and now; a queued one may share an identical waiting one.
      reuseQueued: !o.inline,
    });
    if (!created) process.stderr.write(`backup-manager: an identical backup of ${record.target} is already queued: ${record.id} (no new one queued)\n`);
    if (!o.wait && !o.inline) {
      print(!!o.json, record, () => `${record.id}  QUEUED  target=${record.target}  (a worker runs it; follow with: backup list, or pass --wait)`);
      return Exit.Ok;
    }
    const progress = new Progress(`backup ${record.id.slice(0, 8)} of ${record.target}`, { stream: process.stderr, total: estimate, quiet: o.quiet });
    let final: BackupRecord;
    if (inlineQueue) {
      await inlineQueue.drain({ signal: this.cli.abort.signal, updateProgress: async (p) => progress.update(Number(p.rawBytes ?? p.bytes ?? 0), 'RUNNING') });
      final = await backups.get(record.id, { withDeleted: true });
    } else {
      final = await waitForBackup(ctx, record.id, progress, this.cli.abort.signal);
    }
    progress.finish(`backup ${final.id} ${final.status}`);
    print(!!o.json, final, () => describeBackup(final));
    if (GOOD_BACKUP_STATUSES.includes(final.status)) return Exit.Ok;
    throw new CliError(`backup ${final.id} ${final.status}: ${final.errorMessage ?? 'no reason recorded'}`, Exit.Failed);
  }

  @Option({ flags: '-t, --target <name>', description: 'Configured target (BACKUP_TARGET_<NAME>_URL)', required: true })
  parseTarget(v: string): string {
    return v.toLowerCase();
  }

  @Option({ flags: '--type <type>', description: 'manual, daily, weekly or monthly', defaultValue: BackupType.Manual, choices: Object.values(BackupType) })
  parseType(v: string): string {
    return oneOf(Object.values(BackupType), v);
  }

  @Option({ flags: '-c, --compression <codec>', description: 'zstd, gzip or none (default: BACKUP_COMPRESSION)', choices: [...COMPRESSIONS] })
  parseCompression(v: string): string {
    return oneOf(COMPRESSIONS, v);
  }

  @Option({ flags: '-d, --description <text>', description: 'Free text kept with the backup' })
  parseDescription(v: string): string {
    return v;
  }

  @Option({ flags: '--scope <scope>', description: 'full (default), partial (the target\'s core tables) or selective (--tables)', choices: [...SCOPES] })
  parseScope(v: string): string {
    return oneOf(SCOPES, v);
  }

  @Option({ flags: '--tables <names>', description: 'Comma-separated tables, named as GET /api/v1/targets/{name}/tables lists them, e.g. \'orders,"Mixed Case",sales."a.b"\' (a comma inside double quotes is part of the name; implies --scope selective)' })
  parseTables(v: string): string[] {
    return splitTableList(v);
  }

  @Option({ flags: '--schema-only', description: 'Table definitions without rows' })
  parseSchemaOnly(): boolean {
    return true;
  }

  @Option({ flags: '--data-only', description: 'Rows without table definitions' })
  parseDataOnly(): boolean {
    return true;
  }

  @Option({ flags: '--format <format>', description: 'PostgreSQL: plain (psql) or custom (pg_restore; default BACKUP_PG_FORMAT)', choices: [...FORMATS] })
  parseFormat(v: string): string {
    return oneOf(FORMATS, v);
  }

  @Option({ flags: '--retention-days <n>', description: 'Days to keep the backup (1-36500); sets its expiry' })
  parseRetentionDays(v: string): number {
    return Number(v);
  }

  @Option({ flags: '-w, --wait', description: 'Wait until the backup is COMPLETED or FAILED (exit 0 or 1)' })
  parseWait(): boolean {
    return true;
  }

  @Option({ flags: '--inline', description: 'Run the backup in this process, without Redis (implies --wait)' })
  parseInline(): boolean {
    return true;
  }
}

interface ListFlags extends CommonFlags {
  target?: string;
  status?: BackupStatus;
  limit?: number;
}

@SubCommand({ name: 'list', aliases: ['ls'], description: 'Newest backups first' })
export class BackupListCommand extends BaseCommand {
  async run(_: string[], o: ListFlags): Promise<void> {
    await runCommand(async () => {
      const ctx = await this.cli.offline();
      const page = await ctx.get(BackupsService, { strict: false }).list({ page: 1, limit: o.limit ?? 20, target: o.target, status: o.status, includeDeleted: false } as ListBackupsQuery);
      print(!!o.json, page, () =>
        page.items.length
          ? page.items.map((r) => `${r.id}  ${r.status.padEnd(9)}  ${r.target.padEnd(12)}  ${r.type.padEnd(7)}  ${(r.sizeBytes != null ? formatBytes(Number(r.sizeBytes)) : '-').padStart(9)}  ${new Date(r.createdAt).toISOString()}`).join('\n') + `\n(${page.items.length} of ${page.total})`
          : 'no backups',
      );
    });
  }

  @Option({ flags: '-t, --target <name>', description: 'Only this target' })
  parseTarget(v: string): string {
    return v.toLowerCase();
  }

  @Option({ flags: '-s, --status <status>', description: 'Only this status', choices: Object.values(BackupStatus) })
  parseStatus(v: string): string {
    return oneOf(Object.values(BackupStatus), v);
  }

  @Option({ flags: '-n, --limit <n>', description: 'At most this many (1-200, default 20)' })
  parseLimit(v: string): number {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 200) throw new CliError('--limit must be a whole number from 1 to 200', Exit.Usage);
    return n;
  }
}

interface VerifyFlags extends CommonFlags {
  drill?: boolean;
  wait?: boolean;
}

@SubCommand({ name: 'verify', arguments: '<id>', description: 'Verify a backup (checksum and decompression), or restore-drill it with --drill' })
export class BackupVerifyCommand extends BaseCommand {
  async run([id]: string[], o: VerifyFlags): Promise<void> {
    await runCommand(async () => {
      const { ctx, queue: inlineQueue } = await this.cli.forJob(o.inline);
      const restores = ctx.get(RestoresService, { strict: false });
      const { jobId } = await restores.requestVerify(id, !!o.drill);
      if (o.wait === false && !o.inline) {
        print(!!o.json, { backupId: id, drill: !!o.drill, jobId }, () => `verification queued (job ${jobId})`);
        return Exit.Ok;
      }
      const progress = new Progress(`${o.drill ? 'drill' : 'verify'} ${id.slice(0, 8)}`, { stream: process.stderr, quiet: o.quiet });
      let result: unknown;
      let failure: string | undefined;
      if (inlineQueue) {
        const outcomes = await inlineQueue.drain({ signal: this.cli.abort.signal, updateProgress: async (p) => progress.update(Number(p.rawBytes ?? p.bytes ?? 0)) });
        const mine = outcomes.find((x) => x.id === jobId);
        result = mine?.result;
        failure = mine?.error?.message;
      } else {
        const queue = ctx.get(JobsQueue, { strict: false });
        ({ result, failure } = await pollUntil<{ result?: unknown; failure?: string }>(
          this.cli.abort.signal,
          async () => {
            const job = await queue.queue.getJob(jobId);
            const state = job ? await job.getState() : 'unknown';
            if (state === 'completed') return { result: job!.returnvalue };
            if (state === 'failed') return { failure: job!.failedReason };
            progress.update(0, state);
            return undefined;
          },
          () => `stopped waiting; verification ${jobId} continues in the queue`,
        ));
      }
      const record = await ctx.get(BackupsService, { strict: false }).get(id, { withDeleted: true });
      const verification = result as { ok?: boolean; reason?: string; skipped?: string } | undefined;
      const ok = !failure && !!verification && (verification.ok === true || !!verification.skipped);
      progress.finish(`${o.drill ? 'drill' : 'verification'} of ${id}: ${ok ? 'ok' : 'FAILED'}`);
      print(!!o.json, { ok, backupId: id, status: record.status, verification: verification ?? null, error: failure ?? null }, () => describeBackup(record));
      if (ok) return Exit.Ok;
      throw new CliError(`verification of ${id} failed: ${failure ?? verification?.reason ?? record.errorMessage ?? 'unknown reason'}`, Exit.Failed);
    });
  }

  @Option({ flags: '--drill', description: 'Restore into a throwaway database and compare tables and row counts' })
  parseDrill(): boolean {
    return true;
  }

  @Option({ flags: '--no-wait', description: 'Return once queued' })
  parseNoWait(): boolean {
    return false;
  }

  @Option({ flags: '--inline', description: 'Run here, without Redis' })
  parseInline(): boolean {
    return true;
  }
}

@Command({ name: 'backup', description: 'Create, list and verify backups', subCommands: [BackupCreateCommand, BackupListCommand, BackupVerifyCommand] })
export class BackupCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
