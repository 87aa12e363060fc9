import type { Command } from 'commander';
import { CatalogRebuild } from '../../backup/catalog-rebuild.service.js';
import { BaseCommand, print, type CommonFlags } from '../base-command.js';

interface RebuildFlags extends CommonFlags {
  dryRun?: boolean;
  storage?: string;
}

/** `catalog rebuild`: recreate the catalog from the manifests in storage (disaster recovery). */
export class CatalogRebuildCommand extends BaseCommand<RebuildFlags> {
  readonly name = 'rebuild';
  readonly description = "Recreate missing backup records from a destination's manifests (original ids; artifacts checked); mark copies whose artifact is gone missing";

  protected configure(cmd: Command): void {
    cmd.option('-s, --storage <name>', 'Scan only this destination (default: every one)', (v: string) => v.toLowerCase()).option('--dry-run', 'Report what would change; change nothing');
  }

  async run(_: string[], o: RebuildFlags): Promise<void> {
    const ctx = await this.cli.offline();
    const report = await ctx.get(CatalogRebuild, { strict: false }).rebuild({ storage: o.storage, dryRun: !!o.dryRun });
    print(o.json, report, () => {
      const verb = report.dryRun ? 'would recreate' : 'recreated';
      return report.storages
        .map((s) =>
          [
            `${s.storage}: ${s.manifests} manifest(s); ${verb} ${s.created.length} record(s), ${s.copiesAdded.length} copy(ies) added, ${s.markedMissing.length} marked missing, ${s.unchanged} unchanged${s.invalid.length ? `, ${s.invalid.length} unusable` : ''}${s.error ? `; could not list: ${s.error}` : ''}`,
            ...s.created.map((c) => `  ${c.id}  ${c.target}  ${c.state}  ${c.fileKey}`),
            ...s.invalid.map((i) => `  unusable ${i.key}: ${i.reason}`),
          ].join('\n'),
        )
        .join('\n');
    });
  }
}
