import type { Command } from 'commander';
import { RetentionService } from '../../scheduler/retention.service.js';
import { BaseCommand, print, type CommonFlags } from '../base-command.js';
import { formatBytes } from '../progress.js';

interface CleanupFlags extends CommonFlags {
  dryRun?: boolean;
  target?: string;
}

/** `cleanup`: apply the retention policies now. */
export class CleanupCommand extends BaseCommand<CleanupFlags> {
  readonly name = 'cleanup';
  readonly description = 'Apply the retention policies: delete expired backups (files, manifests, records)';

  protected configure(cmd: Command): void {
    cmd.option('--dry-run', 'List what would be deleted; delete nothing').option('-t, --target <name>', 'Only this target', (v: string) => v.toLowerCase());
  }

  async run(_: string[], o: CleanupFlags): Promise<void> {
    const ctx = await this.cli.offline();
    const result = await ctx.get(RetentionService, { strict: false }).cleanup({ dryRun: !!o.dryRun, target: o.target, trigger: 'cli' });
    print(o.json, result, () => {
      const verb = result.dryRun ? 'would delete' : 'deleted';
      const lines = result.deleted.map((d) => `  ${d.id}  ${d.target}  ${d.reasons.join('; ')}`);
      return [`${verb} ${result.deleted.length} backup(s), ${formatBytes(result.freedBytes)}; kept ${result.kept}${result.skipped.length ? `; skipped ${result.skipped.length}` : ''}`, ...lines].join('\n');
    });
  }
}
