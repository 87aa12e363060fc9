import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsEnum, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { PageQuery } from '../../common/page.dto.js';
import { queryBoolean } from '../../common/validation.js';
import { BackupStatus, BackupType } from '../entities/backup-record.entity.js';

export class ListBackupsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: BackupStatus })
  @IsOptional()
  @IsEnum(BackupStatus, { message: `status must be one of: ${Object.values(BackupStatus).join(', ')}` })
  status?: BackupStatus;

  @ApiPropertyOptional({ enum: BackupType })
  @IsOptional()
  @IsEnum(BackupType, { message: `type must be one of: ${Object.values(BackupType).join(', ')}` })
  type?: BackupType;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(/^[a-z0-9_]+$/, { message: 'target must be a target name (lower-case letters, digits, _)' })
  target?: string;

  @ApiPropertyOptional({
    description: 'Continue after the last backup of a previous page: its `cursor`, unchanged. Cheap at any depth, unlike a large `page` number (which is then ignored). Use the same filters as that page.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'cursor is not one this API returned: pass the `cursor` of a previous page unchanged' })
  cursor?: string;

  @ApiPropertyOptional({ default: false, description: 'Also list soft-deleted backups (true/false, 1/0)' })
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean({ message: 'includeDeleted must be true or false' })
  includeDeleted: boolean = false;
}

export class DeleteBackupQuery {
  @ApiPropertyOptional({ default: false, description: 'Also remove the artifact file' })
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean({ message: 'hard must be true or false' })
  hard: boolean = false;
}
