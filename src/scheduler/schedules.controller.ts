import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentActor } from '../auth/actor.decorator.js';
import { MinRole, Role, type Actor } from '../auth/roles.js';
import { BackupResponse, ErrorResponse, toBackupResponse } from '../backup/dto/backup-response.dto.js';
import { LibraryController, ROLE_TOO_LOW } from '../common/library-controller.decorator.js';
import { CreateScheduleDto, ScheduleResponse, UpdateScheduleDto } from './dto/schedule.dto.js';
import { SchedulesService } from './schedules.service.js';

@LibraryController('schedules', { forbidden: ROLE_TOO_LOW })
@Controller('schedules')
export class SchedulesController {
  constructor(private readonly schedules: SchedulesService) {}

  @Get()
  @ApiOperation({ summary: 'List schedules with their next runs' })
  @ApiOkResponse({ type: [ScheduleResponse] })
  async list() {
    const now = new Date();
    return Promise.all((await this.schedules.all()).map((s) => this.schedules.view(s, now)));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One schedule' })
  @ApiOkResponse({ type: ScheduleResponse })
  @ApiNotFoundResponse({ type: ErrorResponse })
  async get(@Param('id') id: string) {
    return this.schedules.view(await this.schedules.get(id));
  }

  @Post()
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Create a schedule (cron or preset, in a time zone); it fires on every scheduler replica within seconds' })
  @ApiCreatedResponse({ type: ScheduleResponse })
  @ApiBadRequestResponse({ type: ErrorResponse, description: 'Invalid cron, time zone, policy or fields (the message says which)' })
  @ApiNotFoundResponse({ type: ErrorResponse, description: 'Unknown target' })
  @ApiConflictResponse({ type: ErrorResponse, description: 'Name taken' })
  async create(@Body() dto: CreateScheduleDto, @CurrentActor() actor: Actor) {
    return this.schedules.view(await this.schedules.create(dto, actor));
  }

  @Patch(':id')
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Change a schedule; `cron` and `preset` replace each other' })
  @ApiOkResponse({ type: ScheduleResponse })
  @ApiBadRequestResponse({ type: ErrorResponse })
  @ApiNotFoundResponse({ type: ErrorResponse })
  @ApiConflictResponse({ type: ErrorResponse, description: 'Name taken' })
  async update(@Param('id') id: string, @Body() dto: UpdateScheduleDto, @CurrentActor() actor: Actor) {
    return this.schedules.view(await this.schedules.update(id, dto, actor));
  }

  @Post(':id/enable')
  @HttpCode(200)
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Enable a schedule' })
  @ApiOkResponse({ type: ScheduleResponse })
  @ApiNotFoundResponse({ type: ErrorResponse })
  async enable(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.schedules.view(await this.schedules.setEnabled(id, true, actor));
  }

  @Post(':id/disable')
  @HttpCode(200)
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Disable a schedule: no replica fires it from then on' })
  @ApiOkResponse({ type: ScheduleResponse })
  @ApiNotFoundResponse({ type: ErrorResponse })
  async disable(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.schedules.view(await this.schedules.setEnabled(id, false, actor));
  }

  @Post(':id/run')
  @HttpCode(202)
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Run now: queue the schedule\'s backup (works for disabled schedules too); while an identical backup is still QUEUED, that one is returned (200)' })
  @ApiAcceptedResponse({ type: BackupResponse, description: 'Queued; poll GET /backups/:id' })
  @ApiOkResponse({ type: BackupResponse, description: 'An identical backup is already QUEUED: that record (nothing new is queued)' })
  @ApiNotFoundResponse({ type: ErrorResponse })
  @ApiTooManyRequestsResponse({ type: ErrorResponse, description: 'QUEUE_FULL: QUEUE_MAX_WAITING jobs are waiting; nothing was recorded. The Retry-After header says when to ask again' })
  async run(@Param('id') id: string, @CurrentActor() actor: Actor, @Res({ passthrough: true }) res: Response) {
    const { record, created } = await this.schedules.runNow(id, actor);
    if (!created) res.status(200);
    return toBackupResponse(record);
  }

  @Delete(':id')
  @MinRole(Role.Admin)
  @ApiOperation({ summary: 'Delete a schedule (its backups stay)' })
  @ApiOkResponse({ type: ScheduleResponse })
  @ApiNotFoundResponse({ type: ErrorResponse })
  async remove(@Param('id') id: string, @CurrentActor() actor: Actor) {
    const s = await this.schedules.remove(id, actor);
    return { ...(await this.schedules.view({ ...s, enabled: false })), enabled: s.enabled };
  }
}
