import { Option, type Command } from 'commander';
import { BackupsService } from '../../backup/backups.service.js';
import { BackupStatus } from '../../backup/entities/backup-record.entity.js';
import type { ListBackupsQuery } from '../../backup/dto/list-backups.dto.js';
import { BaseCommand, print, wholeNumber, type CommonFlags } from '../base-command.js';
import { backupJson, listLine } from './backup-output.js';

interface ListFlags extends CommonFlags {
  target?: string;
  status?: BackupStatus;
  limit: number;
}

/** `backup list`: newest backups first, from the catalog (no Redis needed). */
export class BackupListCommand extends BaseCommand<ListFlags> {
  readonly name = 'list';
  override readonly aliases = ['ls'];
  readonly description = 'Newest backups first';
  override readonly common = { json: true, quiet: true };

  protected configure(cmd: Command): void {
    cmd
      .option('-t, --target <name>', 'Only this target', (v: string) => v.toLowerCase())
      .addOption(new Option('-s, --status <status>', 'Only this status').choices(Object.values(BackupStatus)))
      .option('-n, --limit <n>', 'At most this many (1-200)', wholeNumber(1, 200, '--limit must be a whole number from 1 to 200'), 20);
  }

  async run(_: string[], o: ListFlags): Promise<void> {
    const ctx = await this.cli.offline();
    const backups = ctx.get(BackupsService, { strict: false });
    const page = await backups.list({ page: 1, limit: o.limit, target: o.target, status: o.status, includeDeleted: false } as ListBackupsQuery);
    const copies = await backups.copiesOf(page.items.map((r) => r.id));
    const items = page.items.map((r) => backupJson(r, copies.get(r.id) ?? []));
    print(o.json, { ...page, items }, () =>
      items.length
        ? items
            .map(listLine)
            .join('\n') + `\n(${items.length} of ${page.total})`
        : 'no backups',
    );
  }
}
