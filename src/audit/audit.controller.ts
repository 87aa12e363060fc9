import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { MinRole, Role } from '../auth/roles.js';
import { ErrorResponse } from '../backup/dto/backup-response.dto.js';
import { LibraryController } from '../common/library-controller.decorator.js';
import { AuditService } from './audit.service.js';
import { AuditPage, ListAuditQuery } from './dto/audit.dto.js';

/** Read-only: the trail has no update or delete route. */
@LibraryController('audit', { forbidden: 'Needs the admin role' })
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @MinRole(Role.Admin)
  @ApiOperation({ summary: 'The audit trail, newest first, with filters and pagination' })
  @ApiOkResponse({ type: AuditPage })
  @ApiBadRequestResponse({ type: ErrorResponse })
  list(@Query() q: ListAuditQuery) {
    return this.audit.list(q);
  }
}
