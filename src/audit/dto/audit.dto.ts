import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDate, IsEnum, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { pageOf, pageQuery } from '../../common/page.dto.js';
import { AuditOutcome, AuditSeverity } from '../entities/audit-event.entity.js';

/** 50 events a page by default, at most 500. */
export class ListAuditQuery extends pageQuery({ defaultLimit: 50, maxLimit: 500 }) {
  @ApiPropertyOptional({ description: 'Exact action, or a prefix ending in `*`', example: 'backup.*' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(/^[A-Za-z0-9._-]+\*?$/, { message: 'action may hold letters, digits, ".", "_", "-" and a trailing "*"' })
  action?: string;

  @ApiPropertyOptional({ description: 'Actor id: a token subject, `system` or `anonymous`' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  actor?: string;

  @ApiPropertyOptional({ enum: AuditOutcome })
  @IsOptional()
  @IsEnum(AuditOutcome, { message: `outcome must be one of: ${Object.values(AuditOutcome).join(', ')}` })
  outcome?: AuditOutcome;

  @ApiPropertyOptional({ enum: AuditSeverity, description: 'This severity and worse' })
  @IsOptional()
  @IsEnum(AuditSeverity, { message: `severity must be one of: ${Object.values(AuditSeverity).join(', ')}` })
  severity?: AuditSeverity;

  @ApiPropertyOptional({ description: 'Resource id, e.g. a backup id' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  resource?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Events at or after this time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'from must be an ISO 8601 date' })
  from?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Events at or before this time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'to must be an ISO 8601 date' })
  to?: Date;
}

@ApiSchema({ name: 'BmAuditEventResponse' })
export class AuditEventResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() occurredAt!: Date;
  @ApiProperty({ description: 'Token subject, `system` or `anonymous`' }) actorId!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) actorName!: string | null;
  @ApiPropertyOptional({ nullable: true, enum: ['viewer', 'operator', 'admin'] }) actorRole!: string | null;
  @ApiProperty({ example: 'backup.create' }) action!: string;
  @ApiPropertyOptional({ type: String, nullable: true, example: 'backup' }) resourceType!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) resource!: string | null;
  @ApiProperty({ enum: AuditOutcome }) outcome!: AuditOutcome;
  @ApiProperty({ enum: AuditSeverity }) severity!: AuditSeverity;
  @ApiPropertyOptional({ type: String, nullable: true }) requestId!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) clientIp!: string | null;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true, description: 'Redacted details; never secrets' }) metadata!: Record<string, unknown> | null;
}

@ApiSchema({ name: 'BmAuditPage' })
export class AuditPage extends pageOf(AuditEventResponse) {}
