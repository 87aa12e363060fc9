import { Controller, Get, Header, Module, type DynamicModule } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { CacheModule as NestCacheModule } from '@nestjs/cache-manager';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { BackupManagerModule } from './backup-manager.module.js';
import type { AppConfig } from './config/env.js';
import { HealthResponse } from './system-info/dto/system-info.dto.js';
import { BackupMetrics } from './system-info/backup-metrics.service.js';
import { SystemHealthService } from './system-info/system-health.service.js';

/** Unauthenticated probes for orchestrators, outside the `api/v1` prefix. */
@ApiTags('health')
@Controller('health')
class HealthController {
  constructor(
    private readonly checks: HealthCheckService,
    private readonly health: SystemHealthService,
  ) {}

  @Get('live')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ type: HealthResponse })
  live() {
    return this.checks.check([]);
  }

  @Get('ready')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness: catalog, Redis, storage writable, free space above the threshold' })
  @ApiOkResponse({ type: HealthResponse })
  @ApiServiceUnavailableResponse({ type: HealthResponse, description: 'A dependency is down; see `error`' })
  ready() {
    return this.checks.check(this.health.readiness());
  }
}

/** Prometheus scrape endpoint, outside the `api/v1` prefix and without a token, like the probes. */
@ApiTags('metrics')
@Controller('metrics')
class MetricsController {
  constructor(private readonly metrics: BackupMetrics) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Prometheus metrics: backups by status and outcome, durations, sizes, last success per target, queue depth' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format', schema: { type: 'string' } })
  scrape(): Promise<string> {
    return this.metrics.render();
  }
}

/** The standalone service: the library plus app-level concerns (probes, metrics, a memory cache). */
@Module({})
export class AppModule {
  static forConfig(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        // App-wide modules the library uses but never imports itself (a host has its own).
        EventEmitterModule.forRoot({ wildcard: true, delimiter: '.' }),
        ScheduleModule.forRoot(),
        // The app's in-memory cache-manager store; `DELETE /cache {cacheType: memory}` clears it.
        NestCacheModule.register({ isGlobal: true }),
        BackupManagerModule.forRoot(config.options),
      ],
      controllers: config.options.controllers ? [HealthController, MetricsController] : [],
    };
  }
}
