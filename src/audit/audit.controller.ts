import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { MinRole, Role } from '../auth/roles.js';
import { LibraryController } from '../common/library-controller.decorator.js';
import { AuditService } from './audit.service.js';
import { AuditPage, ListAuditQuery } from './dto/audit.dto.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ErrorCode } from '../common/error-codes.js';

/** Read-only: the trail has no update or delete route. */
@LibraryController('audit', { forbidden: 'Needs the admin role' })
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiErrors([ErrorCode.ValidationFailed])
  @MinRole(Role.Admin)
  @ApiOperation({ summary: 'The audit trail, newest first, with filters and pagination' })
  @ApiOkResponse({ type: AuditPage })
  list(@Query() q: ListAuditQuery) {
    return this.audit.list(q);
  }
}
