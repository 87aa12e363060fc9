import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import {
  ApiBody,
  ApiOkResponse,
  ApiOperation,
} from '@nestjs/swagger';
import { CurrentActor } from '../auth/actor.decorator.js';
import { MinRole, Role, type Actor } from '../auth/roles.js';
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
  @ApiErrors([...BODY_ERRORS, ErrorCode.TargetNotFound, ErrorCode.CleanupRunning])
  @HttpCode(200)
  @MinRole(Role.Admin)
  @ApiOperation({ summary: 'Apply retention now: deletes files and soft-deletes records; `dryRun` only lists them. One cleanup runs at a time (409 CLEANUP_RUNNING)' })
  @ApiOkResponse({ type: CleanupResponse })
  cleanup(@Body() dto: CleanupRequestDto, @CurrentActor() actor: Actor) {
    return this.retention.cleanup({ dryRun: dto.dryRun, target: dto.target }, actor);
  }
}
