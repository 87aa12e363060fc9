import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBody,
  ApiOkResponse,
  ApiOperation,
} from '@nestjs/swagger';
import { CurrentActor } from '../auth/actor.decorator.js';
import { MinRole, Role, type Actor } from '../auth/roles.js';
import { BackupResponse, toBackupResponse } from '../backup/dto/backup-response.dto.js';
import { LibraryController, ROLE_TOO_LOW } from '../common/library-controller.decorator.js';
import { CleanupRequestDto, CleanupResponse, RetentionPoliciesResponse } from './dto/retention.dto.js';
import { RetentionService } from './retention.service.js';
import { ApiErrors, BODY_ERRORS } from '../common/api-errors.decorator.js';
import { ErrorCode } from '../common/error-codes.js';

@LibraryController('retention', { forbidden: ROLE_TOO_LOW })
@Controller('retention')
export class RetentionController {
  constructor(private readonly retention: RetentionService) {}

  @Get('policies')
  @ApiOperation({ summary: 'The configured retention policies and the default one' })
  @ApiOkResponse({ type: RetentionPoliciesResponse })
  policies() {
    return this.retention.policies();
  }

  @Post('cleanup')
  @ApiBody({
    type: CleanupRequestDto,
    examples: {
    dryRun: { summary: 'Report what would be deleted for one target', value: { dryRun: true, target: 'app' } },
  },
  })
  @ApiErrors([...BODY_ERRORS, ErrorCode.TargetNotFound])
  @HttpCode(200)
  @MinRole(Role.Admin)
  @ApiOperation({ summary: 'Apply retention now: deletes files and soft-deletes records; `dryRun` only lists them' })
  @ApiOkResponse({ type: CleanupResponse })
  cleanup(@Body() dto: CleanupRequestDto, @CurrentActor() actor: Actor) {
    return this.retention.cleanup({ dryRun: dto.dryRun, target: dto.target }, actor);
  }
}

/** Pinning lives with retention: a pinned backup is never deleted. */
@LibraryController('backups', { forbidden: ROLE_TOO_LOW })
@Controller('backups')
export class BackupPinsController {
  constructor(private readonly retention: RetentionService) {}

  @Post(':id/pin')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.BackupNotFound, ErrorCode.AmbiguousId])
  @HttpCode(200)
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Pin a backup: retention keeps it and DELETE refuses it until it is unpinned' })
  @ApiOkResponse({ type: BackupResponse })
  async pin(@Param('id') id: string, @CurrentActor() actor: Actor): Promise<BackupResponse> {
    return toBackupResponse(await this.retention.setPinned(id, true, actor));
  }

  @Post(':id/unpin')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.BackupNotFound, ErrorCode.AmbiguousId])
  @HttpCode(200)
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Unpin a backup: retention applies to it again' })
  @ApiOkResponse({ type: BackupResponse })
  async unpin(@Param('id') id: string, @CurrentActor() actor: Actor): Promise<BackupResponse> {
    return toBackupResponse(await this.retention.setPinned(id, false, actor));
  }
}
