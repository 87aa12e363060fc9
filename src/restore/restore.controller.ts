import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentActor } from '../auth/actor.decorator.js';
import { MinRole, Role, type Actor } from '../auth/roles.js';
import { ErrorResponse } from '../backup/dto/backup-response.dto.js';
import { LibraryController, ROLE_TOO_LOW } from '../common/library-controller.decorator.js';
import { ListRestoresQuery, RestoreBackupDto, RestoreRunPage, RestoreRunResponse, RestoreStats, VerifyAccepted, VerifyBackupDto } from './dto/restore.dto.js';
import { RestoresService } from './restores.service.js';

/** Restore and verify actions on a backup (`/backups/:id/restore`, `/backups/:id/verify`). */
@LibraryController('restores', { forbidden: `${ROLE_TOO_LOW}; or (restore) a destination no restore may write: a system database, a bm_* name, or an existing database that is neither the target's own nor allowed for it` })
@Controller('backups')
export class BackupRestoreController {
  constructor(private readonly restores: RestoresService) {}

  @Post(':id/restore')
  @HttpCode(202)
  @MinRole(Role.Admin)
  @ApiOperation({
    summary:
      'Queue a restore of a backup (admin). Needs confirm: true. Goes into the target\'s own database, a new one, or one allowed for the target; ' +
      'an existing destination is backed up first (safety backup) and the restore is all-or-nothing where the engine allows it',
  })
  @ApiAcceptedResponse({ type: RestoreRunResponse, description: 'Queued; poll GET /restores/:id' })
  @ApiBadRequestResponse({ type: ErrorResponse, description: 'No confirm: true, or an invalid targetDatabase' })
  @ApiNotFoundResponse({ type: ErrorResponse, description: 'Unknown backup or target' })
  @ApiConflictResponse({ type: ErrorResponse, description: 'Deleted, not restorable without force, artifact missing, or another restore of the same physical database (by any target) is queued or running' })
  @ApiTooManyRequestsResponse({ type: ErrorResponse, description: 'QUEUE_FULL: QUEUE_MAX_WAITING jobs are waiting; nothing was recorded. The Retry-After header says when to ask again' })
  restore(@Param('id') id: string, @Body() dto: RestoreBackupDto, @CurrentActor() actor: Actor) {
    return this.restores.request(id, dto, actor);
  }

  @Post(':id/verify')
  @HttpCode(202)
  @MinRole(Role.Operator)
  @ApiOperation({
    summary: 'Queue a verification: basic (size, SHA-256, decompresses) or a drill (restore into a throwaway database and compare row counts). While the same kind of verification of the backup still waits for a worker, that one is returned (200)',
  })
  @ApiAcceptedResponse({ type: VerifyAccepted, description: 'Queued; the result lands on the backup (VERIFIED or CORRUPTED)' })
  @ApiOkResponse({ type: VerifyAccepted, description: 'The same verification (or drill) of this backup is already waiting: its job, with created: false (nothing new is queued)' })
  @ApiBadRequestResponse({ type: ErrorResponse })
  @ApiNotFoundResponse({ type: ErrorResponse })
  @ApiConflictResponse({ type: ErrorResponse, description: 'Deleted, or not COMPLETED/VERIFIED/CORRUPTED' })
  @ApiTooManyRequestsResponse({ type: ErrorResponse, description: 'QUEUE_FULL: QUEUE_MAX_WAITING jobs are waiting; nothing was queued. The Retry-After header says when to ask again' })
  async verify(@Param('id') id: string, @Body() dto: VerifyBackupDto, @CurrentActor() actor: Actor, @Res({ passthrough: true }) res: Response) {
    const queued = await this.restores.requestVerify(id, !!dto.drill, actor);
    if (!queued.created) res.status(200);
    return queued;
  }
}

/** Restore history. */
@LibraryController('restores')
@Controller('restores')
export class RestoresController {
  constructor(private readonly restores: RestoresService) {}

  @Get()
  @ApiOperation({ summary: 'List restore runs, newest first' })
  @ApiOkResponse({ type: RestoreRunPage })
  @ApiBadRequestResponse({ type: ErrorResponse })
  list(@Query() q: ListRestoresQuery) {
    return this.restores.list(q);
  }

  @Get('stats')
  @ApiOperation({ summary: 'Restore runs by status and backups by verification outcome' })
  @ApiOkResponse({ type: RestoreStats })
  stats() {
    return this.restores.stats();
  }

  @Get(':id')
  @ApiOperation({ summary: 'One restore run' })
  @ApiOkResponse({ type: RestoreRunResponse })
  @ApiNotFoundResponse({ type: ErrorResponse })
  get(@Param('id') id: string) {
    return this.restores.get(id);
  }
}
