import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentActor } from '../auth/actor.decorator.js';
import { MinRole, Role, type Actor } from '../auth/roles.js';
import { ChecksumGate } from '../codecs/checksum-gate.js';
import { LibraryController, ROLE_TOO_LOW } from '../common/library-controller.decorator.js';
import { BackupsService } from './backups.service.js';
import { BackupStatsService } from './backup-stats.service.js';
import { BackupStats, BackupStatsQuery } from './dto/backup-stats.dto.js';
import { BackupPage, BackupResponse, toBackupResponse } from './dto/backup-response.dto.js';
import type { BackupRecord } from './entities/backup-record.entity.js';
import { CreateBackupDto } from './dto/create-backup.dto.js';
import { DeleteBackupQuery, ListBackupsQuery } from './dto/list-backups.dto.js';
import { pipeline } from 'node:stream/promises';
import { ApiErrors, BODY_ERRORS } from '../common/api-errors.decorator.js';
import { ErrorCode } from '../common/error-codes.js';

@LibraryController('backups', { forbidden: ROLE_TOO_LOW })
@Controller('backups')
export class BackupsController {
  constructor(
    private readonly backups: BackupsService,
    private readonly statsService: BackupStatsService,
  ) {}

  @Post()
  @ApiBody({
    type: CreateBackupDto,
    examples: {
    full: { summary: 'The whole database, with the configured defaults', value: { target: 'app' } },
    selective: { summary: 'Named tables only (scope selective)', value: { target: 'app', scope: 'selective', tables: ['customers'], description: 'before the 2.3 migration' } },
    schemaOnly: { summary: 'Table definitions without rows, gzip', value: { target: 'app', includeData: false, compression: 'gzip', retentionDays: 7 } },
  },
  })
  @ApiErrors([...BODY_ERRORS, ErrorCode.TargetNotFound, ErrorCode.TargetUnreachable, ErrorCode.QueueFull, ErrorCode.QueueUnavailable, ErrorCode.QueueBusy])
  @HttpCode(202)
  @MinRole(Role.Operator)
  @ApiOperation({
    summary: 'Queue a backup of a target. While an identical backup (same target, type, scope, tables, includeSchema/includeData, format and compression) is still QUEUED, that one is returned instead (200)',
  })
  @ApiAcceptedResponse({ type: BackupResponse, description: 'Queued: a new record; poll GET /backups/:id' })
  @ApiOkResponse({ type: BackupResponse, description: 'An identical backup is already QUEUED: that record, unchanged (nothing new is queued)' })
  async create(@Body() dto: CreateBackupDto, @CurrentActor() actor: Actor, @Res({ passthrough: true }) res: Response) {
    const { record, created } = await this.backups.submit({ ...dto, triggeredBy: `user:${actor.sub}` }, actor);
    if (!created) res.status(200);
    return toBackupResponse(record, { copies: [] });
  }

  @Get()
  @ApiErrors([ErrorCode.ValidationFailed])
  @ApiOperation({ summary: 'List backups, newest first' })
  @ApiOkResponse({ type: BackupPage })
  async list(@Query() q: ListBackupsQuery): Promise<BackupPage> {
    const page = await this.backups.list(q);
    const copies = await this.backups.copiesOf(page.items.map((r) => r.id));
    return { ...page, items: page.items.map((r) => toBackupResponse(r, { copies: copies.get(r.id) })) };
  }

  @Get('stats')
  @ApiErrors([ErrorCode.ValidationFailed])
  @ApiOperation({ summary: 'Statistics from the catalog, optionally for one target and a date range' })
  @ApiOkResponse({ type: BackupStats })
  stats(@Query() q: BackupStatsQuery) {
    return this.statsService.stats(q);
  }

  @Get(':id')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.BackupNotFound, ErrorCode.AmbiguousId])
  @ApiOperation({ summary: 'One backup, with whether its file is in storage' })
  @ApiOkResponse({ type: BackupResponse })
  async get(@Param('id') id: string) {
    const record = await this.backups.get(id, { withDeleted: true });
    return this.view(record, await this.backups.fileExists(record));
  }

  @Get(':id/download')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.BackupNotFound, ErrorCode.AmbiguousId, ErrorCode.BackupNotReady, ErrorCode.ArtifactMissing])
  @ApiOperation({ summary: 'Stream the artifact; the checksum is verified as it streams and a mismatch aborts the response' })
  @ApiProduces('application/octet-stream')
  @ApiOkResponse({ description: 'The artifact bytes; X-Checksum-SHA256 carries the expected digest' })
  async download(@Param('id') id: string, @CurrentActor() actor: Actor, @Res() res: Response): Promise<void> {
    const { record, stream, size } = await this.backups.openArtifact(id, actor);
    const name = record.fileKey!.split('/').pop()!;
    res.status(200).set({
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(size),
      'Content-Disposition': `attachment; filename="${name}"`,
      'X-Checksum-SHA256': record.checksum ?? '',
      'X-Backup-Id': record.id,
    });
    await pipeline(stream, new ChecksumGate(record.checksum!), res).catch(() => res.destroy());
  }

  @Post(':id/pin')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.BackupNotFound, ErrorCode.AmbiguousId])
  @HttpCode(200)
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Pin a backup: retention keeps it and DELETE refuses it until it is unpinned' })
  @ApiOkResponse({ type: BackupResponse })
  async pin(@Param('id') id: string, @CurrentActor() actor: Actor): Promise<BackupResponse> {
    return this.view(await this.backups.setPinned(id, true, actor));
  }

  @Post(':id/unpin')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.BackupNotFound, ErrorCode.AmbiguousId])
  @HttpCode(200)
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Unpin a backup: retention applies to it again' })
  @ApiOkResponse({ type: BackupResponse })
  async unpin(@Param('id') id: string, @CurrentActor() actor: Actor): Promise<BackupResponse> {
    return this.view(await this.backups.setPinned(id, false, actor));
  }

  @Delete(':id')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.BackupNotFound, ErrorCode.AmbiguousId, ErrorCode.BackupRunning, ErrorCode.BackupPinned])
  @MinRole(Role.Admin)
  @ApiOperation({ summary: 'Delete a backup: soft by default, `?hard=true` removes the file too' })
  @ApiOkResponse({ type: BackupResponse })
  async delete(@Param('id') id: string, @Query() q: DeleteBackupQuery, @CurrentActor() actor: Actor): Promise<BackupResponse> {
    return this.view(await this.backups.delete(id, q.hard, actor));
  }

  /** One record as the API shows it, with its destinations (and so whether it is degraded). */
  private async view(record: BackupRecord, fileExists?: boolean): Promise<BackupResponse> {
    const copies = (await this.backups.copiesOf([record.id])).get(record.id);
    return toBackupResponse(record, { copies, ...(fileExists !== undefined ? { fileExists } : {}) });
  }
}
