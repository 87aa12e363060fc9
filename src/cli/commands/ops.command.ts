import { Injectable } from '@nestjs/common';
import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { signToken } from '../../auth/token-verifier.js';
import { Role } from '../../auth/roles.js';
import { migrateCatalog, openCatalog } from '../../catalog/catalog.js';
import { FINAL_RESTORE_STATUSES, RestoreRun, RestoreStatus } from '../../restore/entities/restore-run.entity.js';
import { RestoresService } from '../../restore/restores.service.js';
import { RetentionService } from '../../scheduler/retention.service.js';
import { SchedulesService } from '../../scheduler/schedules.service.js';
import { CliContext, pollUntil, print, runCommand } from '../context.js';
import { CliError, Exit } from '../exit.js';
import { formatBytes, Progress } from '../progress.js';


interface Flags {
  json?: boolean;
  quiet?: boolean;
}

@Injectable()
abstract class JsonCommand extends CommandRunner {
  constructor(protected readonly cli: CliContext) {
    super();
  }

  @Option({ flags: '--json', description: 'Print the result as JSON on stdout' })
  parseJson(): boolean {
    return true;
  }
}

interface RestoreFlags extends Flags {
  confirm?: boolean;
  targetDatabase?: string;
  force?: boolean;
  safetyBackup?: boolean;
  inline?: boolean;
  wait?: boolean;
}

@Command({ name: 'restore', arguments: '<backup-id>', description: 'Restore a backup into its target database (or --target-database); needs --confirm' })
export class RestoreCommand extends JsonCommand {
  async run([id]: string[], o: RestoreFlags): Promise<void> {
    await runCommand(async () => {
      if (!o.confirm) throw new CliError(`--confirm is required: a restore replaces the contents of the target database`, Exit.Usage);
      const { ctx, queue: inlineQueue } = await this.cli.forJob(o.inline);
      const restores = ctx.get(RestoresService, { strict: false });
      const run = await restores.request(id, { confirm: true, targetDatabase: o.targetDatabase, force: o.force, safetyBackup: o.safetyBackup });
      if (o.wait === false && !o.inline) {
        print(!!o.json, run, () => `${run.id}  QUEUED  restore of ${id} into ${run.target}/${run.database}`);
        return Exit.Ok;
      }
      const progress = new Progress(`restore ${run.id.slice(0, 8)} into ${run.database}`, { stream: process.stderr, quiet: o.quiet });
      let final: RestoreRun;
      if (inlineQueue) {
        await inlineQueue.drain({ signal: this.cli.abort.signal, updateProgress: async (p) => progress.update(Number(p.bytes ?? p.rawBytes ?? 0), 'RUNNING') });
        final = await restores.get(run.id);
      } else {
        let status = '';
        final = await pollUntil(
          this.cli.abort.signal,
          async () => {
            const r = await restores.get(run.id);
            if (FINAL_RESTORE_STATUSES.includes(r.status)) return r;
            status = r.status;
            progress.update(0, r.status);
            return undefined;
          },
          () => `stopped waiting; restore ${run.id} is ${status} and continues in the queue`,
        );
      }
      progress.finish(`restore ${final.id} ${final.status}`);
      print(!!o.json, final, () => `${final.id}  ${final.status}  ${final.target}/${final.database}${final.errorMessage ? `\n  error: ${final.errorMessage}` : ''}`);
      if (final.status === RestoreStatus.Completed) return Exit.Ok;
      throw new CliError(`restore ${final.id} ${final.status}: ${final.errorMessage ?? 'no reason recorded'}`, Exit.Failed);
    });
  }

  @Option({ flags: '--confirm', description: 'Required: yes, replace the database contents' })
  parseConfirm(): boolean {
    return true;
  }

  @Option({ flags: '--target-database <name>', description: 'Restore into this database of the target server instead' })
  parseTargetDatabase(v: string): string {
    return v;
  }

  @Option({ flags: '--force', description: 'Restore a CORRUPTED backup anyway' })
  parseForce(): boolean {
    return true;
  }

  @Option({ flags: '--no-safety-backup', description: 'Skip the safety backup taken before replacing a database' })
  parseNoSafety(): boolean {
    return false;
  }

  @Option({ flags: '--no-wait', description: 'Return once queued' })
  parseNoWait(): boolean {
    return false;
  }

  @Option({ flags: '--inline', description: 'Run here, without Redis' })
  parseInline(): boolean {
    return true;
  }

  @Option({ flags: '-q, --quiet', description: 'No progress output' })
  parseQuiet(): boolean {
    return true;
  }
}

interface CleanupFlags extends Flags {
  dryRun?: boolean;
  target?: string;
}

@Command({ name: 'cleanup', description: 'Apply the retention policies: delete expired backups (files, manifests, records)' })
export class CleanupCommand extends JsonCommand {
  async run(_: string[], o: CleanupFlags): Promise<void> {
    await runCommand(async () => {
      const ctx = await this.cli.offline();
      const result = await ctx.get(RetentionService, { strict: false }).cleanup({ dryRun: !!o.dryRun, target: o.target, trigger: 'cli' });
      print(!!o.json, result, () => {
        const verb = result.dryRun ? 'would delete' : 'deleted';
        const lines = result.deleted.map((d) => `  ${d.id}  ${d.target}  ${d.reasons.join("; ")}`);
        return [`${verb} ${result.deleted.length} backup(s), ${formatBytes(result.freedBytes)}; kept ${result.kept}${result.skipped.length ? `; skipped ${result.skipped.length}` : ''}`, ...lines].join('\n');
      });
    });
  }

  @Option({ flags: '--dry-run', description: 'List what would be deleted; delete nothing' })
  parseDryRun(): boolean {
    return true;
  }

  @Option({ flags: '-t, --target <name>', description: 'Only this target' })
  parseTarget(v: string): string {
    return v.toLowerCase();
  }
}

@SubCommand({ name: 'list', aliases: ['ls'], description: 'Schedules with their next runs' })
export class ScheduleListCommand extends JsonCommand {
  async run(_: string[], o: Flags): Promise<void> {
    await runCommand(async () => {
      const ctx = await this.cli.offline();
      const schedules = ctx.get(SchedulesService, { strict: false });
      const views = await Promise.all((await schedules.all()).map((s) => schedules.view(s)));
      print(!!o.json, views, () =>
        views.length
          ? views.map((v) => `${v.name.padEnd(24)}  ${v.target.padEnd(12)}  ${String(v.type).padEnd(7)}  ${v.expression.padEnd(14)}  ${v.enabled ? `next ${v.nextRunAt ? new Date(v.nextRunAt).toISOString() : '-'}` : 'disabled'}`).join('\n')
          : 'no schedules',
      );
    });
  }
}

@Command({ name: 'schedule', description: 'Backup schedules', subCommands: [ScheduleListCommand] })
export class ScheduleCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}

interface TokenFlags {
  role?: string;
  sub?: string;
  name?: string;
  expires?: string;
}

@Command({ name: 'token', description: 'Print a JWT for the API, signed with JWT_SECRET' })
export class TokenCommand extends CommandRunner {
  constructor(private readonly cli: CliContext) {
    super();
  }

  async run(_: string[], o: TokenFlags): Promise<void> {
    await runCommand(async () => {
      const role = (o.role ?? Role.Viewer) as Role;
      if (!Object.values(Role).includes(role)) throw new CliError(`--role must be one of ${Object.values(Role).join(', ')}`, Exit.Usage);
      if (!o.sub) throw new CliError('--sub is required (the user id the token names)', Exit.Usage);
      const { jwtSecret, issuer, audience, maxTokenLifetimeMs } = this.cli.loadConfig(true).options.auth;
      let token: string;
      try {
        token = signToken(jwtSecret, { sub: o.sub, role, name: o.name }, { expiresIn: o.expires ?? '12h', issuer, audience, maxLifetimeMs: maxTokenLifetimeMs });
      } catch (err) {
        throw new CliError(`--expires ${o.expires}: ${(err as Error).message} (JWT_MAX_LIFETIME_HOURS)`, Exit.Usage);
      }
      process.stdout.write(token + '\n');
    });
  }

  @Option({ flags: '-r, --role <role>', description: 'viewer, operator or admin (default viewer)' })
  parseRole(v: string): string {
    return v;
  }

  @Option({ flags: '-s, --sub <id>', description: 'The user id the token names' })
  parseSub(v: string): string {
    return v;
  }

  @Option({ flags: '--name <name>', description: 'Display name' })
  parseName(v: string): string {
    return v;
  }

  @Option({ flags: '--expires <span>', description: 'Lifetime, e.g. 12h, 7d (default 12h)' })
  parseExpires(v: string): string {
    return v;
  }
}

@Command({ name: 'migrate', description: 'Run pending catalog migrations (or revert the last with --revert)' })
export class MigrateCommand extends CommandRunner {
  constructor(private readonly cli: CliContext) {
    super();
  }

  async run(_: string[], o: { revert?: boolean }): Promise<void> {
    await runCommand(async () => {
      const { options } = this.cli.loadConfig();
      const ds = await openCatalog({ ...options.catalog, migrationsRun: false }).catch((err: Error) => {
        throw new CliError(`could not open the catalog: ${err.message}`, Exit.Unavailable);
      });
      try {
        if (o.revert) {
          await ds.undoLastMigration({ transaction: 'each' });
          process.stdout.write('reverted the last migration\n');
        } else {
          const ran = await migrateCatalog(ds, options.catalog);
          process.stdout.write(ran.length ? `applied: ${ran.join(', ')}\n` : 'catalog is up to date\n');
        }
      } finally {
        await ds.destroy();
      }
    });
  }

  @Option({ flags: '--revert', description: 'Revert the last migration' })
  parseRevert(): boolean {
    return true;
  }
}
