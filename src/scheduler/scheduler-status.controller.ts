import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { JobsQueue } from '../queue/jobs-queue.service.js';
import { LibraryController } from '../common/library-controller.decorator.js';
import { RetentionService } from './retention.service.js';
import { ScheduleTicker } from './schedule-ticker.service.js';
import { SchedulesService } from './schedules.service.js';

@ApiSchema({ name: 'BmSchedulerStatusResponse' })
class SchedulerStatusResponse {
  @ApiProperty({ description: 'Whether this process runs schedule ticks' }) enabled!: boolean;
  @ApiProperty() instanceId!: string;
  @ApiProperty({ example: 'UTC' }) timezone!: string;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) lastSyncAt!: Date | null;
  @ApiProperty({ description: 'Schedules this process has registered' }) registered!: number;
  @ApiProperty({ type: 'array', items: { type: 'object' }, description: 'Schedules with their next runs' }) schedules!: unknown[];
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Jobs per state', example: { active: 1, waiting: 0, delayed: 0, failed: 0, completed: 12, prioritized: 0 } })
  jobs!: Record<string, number>;
  @ApiProperty({ type: 'array', items: { type: 'object' }, description: 'BullMQ workers connected to the queue' }) workers!: unknown[];
  @ApiProperty({ type: 'array', items: { type: 'object' }, description: 'Scheduler replicas that synced recently' }) schedulers!: unknown[];
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Timed cleanup: cron, next run (in this process), last run' }) cleanup!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Scheduled restore drills: cron and next run (in this process)' }) drills!: Record<string, unknown>;
}

@LibraryController('scheduler', { validate: false })
@Controller('scheduler')
export class SchedulerStatusController {
  constructor(
    private readonly schedules: SchedulesService,
    private readonly ticker: ScheduleTicker,
    private readonly retention: RetentionService,
    private readonly queue: JobsQueue,
  ) {}

  @Get('status')
  @ApiOperation({ summary: 'Schedules with next runs, job counts, the workers and scheduler replicas seen' })
  @ApiOkResponse({ type: SchedulerStatusResponse })
  async status(): Promise<SchedulerStatusResponse> {
    const now = new Date();
    const [all, jobs, workers, schedulers] = await Promise.all([
      this.schedules.all(),
      this.queue.counts().catch(() => ({})),
      this.queue.workers().catch(() => []),
      this.ticker.instances().catch(() => []),
    ]);
    const views = await Promise.all(all.map((s) => this.schedules.view(s, now)));
    const policies = this.retention.policies();
    return {
      enabled: this.ticker.enabled,
      instanceId: this.ticker.instanceId,
      timezone: policies.timezone,
      lastSyncAt: this.ticker.lastSyncAt,
      registered: this.ticker.registeredIds.length,
      schedules: views.map((v) => ({
        id: v.id,
        name: v.name,
        target: v.target,
        expression: v.expression,
        timezone: v.timezone,
        enabled: v.enabled,
        nextRunAt: v.nextRunAt,
        nextRuns: v.nextRuns,
        lastRunAt: v.lastRunAt,
        lastStatus: v.lastStatus,
      })),
      jobs: jobs as Record<string, number>,
      workers: workers.map((w) => ({ name: w.name, addr: w.addr, ageSeconds: w.ageSeconds, idleSeconds: w.idleSeconds })),
      schedulers,
      cleanup: { cron: policies.cleanupCron, nextRunAt: this.ticker.nextCleanupAt(), last: this.retention.lastCleanup },
      drills: { cron: this.schedules.settings.drillCron || null, nextRunAt: this.ticker.nextDrillAt() },
    };
  }
}
