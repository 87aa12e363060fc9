import { Controller, Get } from '@nestjs/common';
import { HealthCheckService } from '@nestjs/terminus';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse } from '@nestjs/swagger';
import { LibraryController } from '../common/library-controller.decorator.js';
import { HealthResponse, SystemInfo } from './dto/system-info.dto.js';
import { SystemHealthService } from './system-health.service.js';
import { SystemInfoService } from './system-info.service.js';

@LibraryController('system', { validate: false })
@Controller('system')
export class SystemController {
  constructor(
    private readonly info: SystemInfoService,
    private readonly health: SystemHealthService,
    private readonly checks: HealthCheckService,
  ) {}

  @Get('info')
  @ApiOperation({ summary: 'Version, uptime, process, dump clients, storage, per-target database statistics, queue' })
  @ApiOkResponse({ type: SystemInfo })
  systemInfo() {
    return this.info.info();
  }

  @Get('health')
  @ApiOperation({ summary: 'Readiness plus per-target freshness: a target whose newest good backup is too old is unhealthy' })
  @ApiOkResponse({ type: HealthResponse })
  @ApiServiceUnavailableResponse({ type: HealthResponse, description: 'Something is down; each failing indicator carries a message' })
  systemHealth() {
    return this.checks.check([...this.health.readiness(), ...this.health.freshnessChecks()]);
  }
}
