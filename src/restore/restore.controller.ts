import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentActor } from '../auth/actor.decorator.js';
import { MinRole, Role, type Actor } from '../auth/roles.js';
import { LibraryController, ROLE_TOO_LOW } from '../common/library-controller.decorator.js';
import { ListRestoresQuery, RestoreBackupDto, RestoreRunPage, RestoreRunResponse, RestoreStats, toRestoreRunResponse, VerifyAccepted, VerifyBackupDto } from './dto/restore.dto.js';
import { RestoresService } from './restores.service.js';
import { ApiErrors, BODY_ERRORS } from '../common/api-errors.decorator.js';
import { ErrorCode } from '../common/error-codes.js';

/** Restore and verify actions on a backup (`/backups/:id/restore`, `/backups/:id/verify`). */
@LibraryController('restores', { forbidden: `${ROLE_TOO_LOW}; or (restore) a destination no restore may write: a system database, a bm_* name, or an existing database that is neither the target's own nor allowed for it` })
@Controller('backups')
export class BackupRestoreController {
  constructor(private readonly restores: RestoresService) {}

  @Post(':id/restore')
  @ApiBody({
    type: RestoreBackupDto,
    examples: {
    inPlace: { summary: "Into the target's own database (a safety backup is taken first)", value: { confirm: true } },
  },
  })
  @ApiErrors([...BODY_ERRORS, ErrorCode.BackupNotFound, ErrorCode.AmbiguousId, ErrorCode.TargetNotFound, ErrorCode.DestinationForbidden, ErrorCode.BackupDeleted, ErrorCode.BackupNotRestorable, ErrorCode.TableNotInBackup, ErrorCode.ArtifactMissing, ErrorCode.RestoreInProgress, ErrorCode.QueueFull, ErrorCode.QueueUnavailable, ErrorCode.TargetUnreachable])
  @HttpCode(202)
  @MinRole(Role.Admin)
  @ApiOperation({
    summary:
      'Queue a restore of a backup (admin). Needs confirm: true. Goes into the target\'s own database, a new one, or one allowed for the target; ' +
      'an existing destination is backed up first (safety backup) and the restore is all-or-nothing where the engine allows it',
  })
  @ApiAcceptedResponse({ type: RestoreRunResponse, description: 'Queued; poll GET /restores/:id' })
  async restore(@Param('id') id: string, @Body() dto: RestoreBackupDto, @CurrentActor() actor: Actor): Promise<RestoreRunResponse> {
    return toRestoreRunResponse(await this.restores.request(id, dto, actor));
  }

  @Post(':id/verify')
  @ApiBody({
    type: VerifyBackupDto,
    examples: {
    basic: { summary: 'Read the artifact and check its checksum and sizes', value: {} },
    drill: { summary: 'Also restore into a throwaway database and compare row counts', value: { drill: true } },
  },
  })
  @ApiErrors([...BODY_ERRORS, ErrorCode.BackupNotFound, ErrorCode.AmbiguousId, ErrorCode.TargetNotFound, ErrorCode.BackupDeleted, ErrorCode.BackupNotRestorable, ErrorCode.QueueFull, ErrorCode.QueueUnavailable, ErrorCode.QueueBusy])
  @HttpCode(202)
  @MinRole(Role.Operator)
  @ApiOperation({
    summary: 'Queue a verification: basic (size, SHA-256, decompresses) or a drill (restore into a throwaway database and compare row counts). While the same kind of verification of the backup still waits for a worker, that one is returned (200)',
  })
  @ApiAcceptedResponse({ type: VerifyAccepted, description: 'Queued; the result lands on the backup (VERIFIED or CORRUPTED)' })
  @ApiOkResponse({ type: VerifyAccepted, description: 'The same verification (or drill) of this backup is already waiting: its job, with created: false (nothing new is queued)' })
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
  @ApiErrors([ErrorCode.ValidationFailed])
  @ApiOperation({ summary: 'List restore runs, newest first' })
  @ApiOkResponse({ type: RestoreRunPage })
  async list(@Query() q: ListRestoresQuery): Promise<RestoreRunPage> {
    const page = await this.restores.list(q);
    return { ...page, items: page.items.map(toRestoreRunResponse) };
  }

  @Get('stats')
  @ApiOperation({ summary: 'Restore runs by status and backups by verification outcome' })
  @ApiOkResponse({ type: RestoreStats })
  stats() {
    return this.restores.stats();
  }

  @Get(':id')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.RestoreNotFound, ErrorCode.AmbiguousId])
  @ApiOperation({ summary: 'One restore run' })
  @ApiOkResponse({ type: RestoreRunResponse })
  async get(@Param('id') id: string): Promise<RestoreRunResponse> {
    return toRestoreRunResponse(await this.restores.get(id));
  }
}
