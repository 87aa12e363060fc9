import type { Command } from 'commander';
import { SchedulesService } from '../../scheduler/schedules.service.js';
import { BaseCommand, print, type CommonFlags } from '../base-command.js';

/** `schedule list`: the schedules with their next runs. */
export class ScheduleListCommand extends BaseCommand<CommonFlags> {
  readonly name = 'list';
  override readonly aliases = ['ls'];
  readonly description = 'Schedules with their next runs';

  protected configure(_cmd: Command): void {}

  async run(_: string[], o: CommonFlags): Promise<void> {
    const ctx = await this.cli.offline();
    const schedules = ctx.get(SchedulesService, { strict: false });
    const views = await Promise.all((await schedules.all()).map((s) => schedules.view(s)));
    print(o.json, views, () =>
      views.length
        ? views
            .map((v) => `${v.name.padEnd(24)}  ${v.target.padEnd(12)}  ${String(v.type).padEnd(7)}  ${v.expression.padEnd(14)}  ${v.enabled ? `next ${v.nextRunAt ? new Date(v.nextRunAt).toISOString() : '-'}` : 'disabled'}`)
            .join('\n')
        : 'no schedules',
    );
  }
}
