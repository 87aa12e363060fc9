import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDate, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { BackupStatus } from '../entities/backup-record.entity.js';

export class BackupStatsQuery {
  @ApiPropertyOptional({ description: 'Only this target' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(/^[a-z0-9_]+$/, { message: 'target must be a target name (lower-case letters, digits, _)' })
  target?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Backups created at or after this time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'from must be an ISO 8601 date' })
  from?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Backups created at or before this time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'to must be an ISO 8601 date' })
  to?: Date;
}

@ApiSchema({ name: 'BmBackupSummary' })
export class BackupSummary {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() target!: string;
  @ApiProperty({ enum: BackupStatus }) status!: BackupStatus;
  @ApiProperty() type!: string;
  @ApiProperty() createdAt!: Date;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) completedAt!: Date | null;
  @ApiPropertyOptional({ type: Number, nullable: true }) sizeBytes!: number | null;
}

@ApiSchema({ name: 'BmVerificationStats' })
export class VerificationStats {
  @ApiProperty({ description: 'Backups whose verification ran (VERIFIED or CORRUPTED with verifiedAt)' }) total!: number;
  @ApiProperty() verified!: number;
  @ApiProperty() corrupted!: number;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) lastVerifiedAt!: Date | null;
}

/** Restore runs in the stats range (the restore module's own `/restores/stats` is `RestoreStats`). */
@ApiSchema({ name: 'BmRestoreRunCounts' })
export class RestoreRunCounts {
  @ApiProperty() total!: number;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { COMPLETED: 2, FAILED: 1 } }) byStatus!: Record<string, number>;
}

@ApiSchema({ name: 'BmBackupStats' })
export class BackupStats {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The filters applied', example: { target: 'app', from: null, to: null } })
  filter!: { target: string | null; from: Date | null; to: Date | null };
  @ApiProperty({ description: 'Backups in range, any status (soft-deleted ones excluded)' }) total!: number;
  @ApiProperty({ description: 'COMPLETED + VERIFIED' }) successful!: number;
  @ApiProperty({ description: 'FAILED' }) failed!: number;
  @ApiProperty({ type: Number, description: 'successful / (successful + failed + corrupted), 0..1; null when none finished', nullable: true }) successRate!: number | null;
  @ApiProperty({ description: 'Sum of artifact sizes of successful backups' }) totalSizeBytes!: number;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Mean rawBytes / sizeBytes of successful backups' }) averageCompressionRatio!: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Mean run time of successful backups' }) averageDurationMs!: number | null;
  @ApiPropertyOptional({ type: BackupSummary, nullable: true, description: 'Oldest successful backup' }) oldest!: BackupSummary | null;
  @ApiPropertyOptional({ type: BackupSummary, nullable: true, description: 'Newest successful backup' }) newest!: BackupSummary | null;
  @ApiPropertyOptional({ type: BackupSummary, nullable: true, description: 'Newest backup of any status' }) latest!: BackupSummary | null;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { manual: 3, daily: 10 } }) byType!: Record<string, number>;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { COMPLETED: 12, FAILED: 1 } }) byStatus!: Record<string, number>;
  @ApiProperty({ type: VerificationStats }) verifications!: VerificationStats;
  @ApiPropertyOptional({ type: RestoreRunCounts, nullable: true, description: 'Restore runs in range; null when the restore module is absent' })
  restores!: RestoreRunCounts | null;
}
