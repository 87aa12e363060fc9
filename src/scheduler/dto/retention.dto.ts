import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Matches, MaxLength } from 'class-validator';

@ApiSchema({ name: 'BmCleanupRequestDto' })
export class CleanupRequestDto {
  @ApiPropertyOptional({ default: false, description: 'Only report what would be deleted' })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;

  @ApiPropertyOptional({ description: 'Only this target', example: 'app' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(/^[a-z0-9_]+$/, { message: 'target must be a configured target name (lower-case letters, digits, _)' })
  target?: string;
}

@ApiSchema({ name: 'BmRetentionDecisionResponse' })
export class RetentionDecisionResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() target!: string;
  @ApiProperty() type!: string;
  @ApiProperty() status!: string;
  @ApiProperty() createdAt!: Date;
  @ApiPropertyOptional({ type: Number, nullable: true }) sizeBytes!: number | null;
  @ApiProperty({ description: 'Policy the backup falls under (`explicit` for its own retentionDays)' }) policy!: string;
  @ApiProperty({ enum: ['keep', 'delete'] }) action!: string;
  @ApiProperty({ type: [String], description: 'Why it is deleted' }) reasons!: string[];
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) expiresAt!: Date | null;
}

@ApiSchema({ name: 'BmCleanupResponse' })
export class CleanupResponse {
  @ApiProperty() dryRun!: boolean;
  @ApiPropertyOptional({ type: String, nullable: true }) target!: string | null;
  @ApiProperty({ type: [RetentionDecisionResponse], description: 'Deleted (or, in a dry run, to be deleted)' }) deleted!: RetentionDecisionResponse[];
  @ApiProperty({ description: 'Listed but not deleted (pinned or busy meanwhile)', type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, reason: { type: 'string' } } } })
  skipped!: Array<{ id: string; reason: string }>;
  @ApiProperty({ description: 'How many backups the policies keep' }) kept!: number;
  @ApiProperty() freedBytes!: number;
  @ApiProperty() startedAt!: Date;
  @ApiProperty() finishedAt!: Date;
}

@ApiSchema({ name: 'BmRetentionPoliciesResponse' })
export class RetentionPoliciesResponse {
  @ApiProperty({ example: 'standard' }) defaultPolicy!: string;
  @ApiProperty({ example: 'UTC', description: 'Zone whose days, weeks, months and years tiers count' }) timezone!: string;
  @ApiPropertyOptional({ type: String, nullable: true, example: '0 5 * * *' }) cleanupCron!: string | null;
  @ApiProperty({
    type: 'array',
    items: { type: 'object' },
    example: [{ name: 'gfs', kind: 'tiered', tiers: { keepAllDays: 7, dailyDays: 30, weeklyWeeks: 12, monthlyMonths: 12, yearlyYears: 3 } }],
  })
  policies!: unknown[];
}
