import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentActor } from '../auth/actor.decorator.js';
import { MinRole, Role, type Actor } from '../auth/roles.js';
import { BackupResponse, toBackupResponse } from '../backup/dto/backup-response.dto.js';
import { LibraryController, ROLE_TOO_LOW } from '../common/library-controller.decorator.js';
import { CreateScheduleDto, ScheduleResponse, UpdateScheduleDto } from './dto/schedule.dto.js';
import { SchedulesService } from './schedules.service.js';
import { ApiErrors, BODY_ERRORS } from '../common/api-errors.decorator.js';
import { ErrorCode } from '../common/error-codes.js';

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
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.ScheduleNotFound, ErrorCode.AmbiguousId])
  @ApiOperation({ summary: 'One schedule' })
  @ApiOkResponse({ type: ScheduleResponse })
  async get(@Param('id') id: string) {
    return this.schedules.view(await this.schedules.get(id));
  }

  @Post()
  @ApiBody({
    type: CreateScheduleDto,
    examples: {
    cron: { summary: 'Every night at 02:00 UTC', value: { name: 'app-nightly', target: 'app', cron: '0 2 * * *', timezone: 'UTC' } },
    preset: { summary: 'Weekly, from a preset', value: { name: 'app-weekly', target: 'app', preset: 'weekly' } },
  },
  })
  @ApiErrors([...BODY_ERRORS, ErrorCode.TargetNotFound, ErrorCode.ScheduleNameTaken])
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Create a schedule (cron or preset, in a time zone); it fires on every scheduler replica within seconds' })
  @ApiCreatedResponse({ type: ScheduleResponse })
  async create(@Body() dto: CreateScheduleDto, @CurrentActor() actor: Actor) {
    return this.schedules.view(await this.schedules.create(dto, actor));
  }

  @Patch(':id')
  @ApiBody({
    type: UpdateScheduleDto,
    examples: {
    move: { summary: 'Run at 03:30 Berlin time instead', value: { cron: '30 3 * * *', timezone: 'Europe/Berlin' } },
    pause: { summary: 'Stop starting backups', value: { enabled: false } },
  },
  })
  @ApiErrors([...BODY_ERRORS, ErrorCode.ScheduleNotFound, ErrorCode.AmbiguousId, ErrorCode.TargetNotFound, ErrorCode.ScheduleNameTaken])
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Change a schedule; `cron` and `preset` replace each other' })
  @ApiOkResponse({ type: ScheduleResponse })
  async update(@Param('id') id: string, @Body() dto: UpdateScheduleDto, @CurrentActor() actor: Actor) {
    return this.schedules.view(await this.schedules.update(id, dto, actor));
  }

  @Post(':id/enable')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.ScheduleNotFound, ErrorCode.AmbiguousId])
  @HttpCode(200)
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Enable a schedule' })
  @ApiOkResponse({ type: ScheduleResponse })
  async enable(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.schedules.view(await this.schedules.setEnabled(id, true, actor));
  }

  @Post(':id/disable')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.ScheduleNotFound, ErrorCode.AmbiguousId])
  @HttpCode(200)
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Disable a schedule: no replica fires it from then on' })
  @ApiOkResponse({ type: ScheduleResponse })
  async disable(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.schedules.view(await this.schedules.setEnabled(id, false, actor));
  }

  @Post(':id/run')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.ScheduleNotFound, ErrorCode.AmbiguousId, ErrorCode.TargetNotFound, ErrorCode.TargetUnreachable, ErrorCode.QueueFull, ErrorCode.QueueUnavailable, ErrorCode.QueueBusy])
  @HttpCode(202)
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Run now: queue the schedule\'s backup (works for disabled schedules too); while an identical backup is still QUEUED, that one is returned (200)' })
  @ApiAcceptedResponse({ type: BackupResponse, description: 'Queued; poll GET /backups/:id' })
  @ApiOkResponse({ type: BackupResponse, description: 'An identical backup is already QUEUED: that record (nothing new is queued)' })
  async run(@Param('id') id: string, @CurrentActor() actor: Actor, @Res({ passthrough: true }) res: Response) {
    const { record, created } = await this.schedules.runNow(id, actor);
    if (!created) res.status(200);
    // Just queued (or still QUEUED): no copies yet.
    return toBackupResponse(record, { copies: [] });
  }

  @Delete(':id')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.ScheduleNotFound, ErrorCode.AmbiguousId])
  @MinRole(Role.Admin)
  @ApiOperation({ summary: 'Delete a schedule (its backups stay)' })
  @ApiOkResponse({ type: ScheduleResponse })
  async remove(@Param('id') id: string, @CurrentActor() actor: Actor) {
    const s = await this.schedules.remove(id, actor);
    return { ...(await this.schedules.view({ ...s, enabled: false })), enabled: s.enabled };
  }
}
