import { ApiProperty, ApiPropertyOptional, ApiSchema, PartialType } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsEnum, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { BackupType } from '../../backup/entities/backup-record.entity.js';
import { PRESETS } from '../cron.js';
import { StorageNames } from '../../backup/dto/storage-names.js';
import { TABLE_NAMES_DOC } from '../../engines/table-names.js';
import { COMPRESSIONS, FORMATS, oneOfMessage, SCOPES, type BackupScopeKind, type Compression, type DumpFormat } from '../../common/vocabulary.js';

const PRESET_NAMES = Object.keys(PRESETS);

@ApiSchema({ name: 'BmCreateScheduleDto' })
export class CreateScheduleDto {
  @ApiProperty({ description: 'Unique name; backups it starts are triggered by `schedule:<name>`', example: 'app-nightly' })
  @IsString()
  @MaxLength(64)
  @Matches(/^[a-z0-9][a-z0-9_.-]*$/, { message: 'name must be lower-case letters, digits, "_", "." or "-" (at most 64)' })
  name!: string;

  @ApiProperty({ description: 'Name of a configured target (see GET /targets)', example: 'app' })
  @IsString()
  @MaxLength(64)
  @Matches(/^[a-z0-9_]+$/, { message: 'target must be a configured target name (lower-case letters, digits, _)' })
  target!: string;

  @ApiPropertyOptional({ description: 'Cron expression: 5 fields, or 6 with seconds first. Give this or `preset`.', example: '0 2 * * *' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  cron?: string;

  @ApiPropertyOptional({ enum: PRESET_NAMES, description: 'hourly = 0 * * * *, daily = 0 0 * * *, weekly = 0 0 * * 0 (Sunday), monthly = 0 0 1 * *' })
  @IsOptional()
  @IsIn(PRESET_NAMES, { message: `preset must be one of: ${PRESET_NAMES.join(', ')}` })
  preset?: string;

  @ApiPropertyOptional({ description: 'IANA time zone the cron is read in; defaults to SCHEDULER_TIMEZONE', example: 'Asia/Jakarta' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  timezone?: string;

  @ApiPropertyOptional({ enum: BackupType, description: 'Type of the backups it starts; defaults from the preset, else daily' })
  @IsOptional()
  @IsEnum(BackupType, { message: `type must be one of: ${Object.values(BackupType).join(', ')}` })
  type?: BackupType;

  @ApiPropertyOptional({ enum: SCOPES, default: 'full' })
  @IsOptional()
  @IsIn(SCOPES, { message: oneOfMessage('scope', SCOPES) })
  scope?: BackupScopeKind;

  @ApiPropertyOptional({ type: [String], description: `Tables of a \`selective\` backup, checked at each run. ${TABLE_NAMES_DOC}` })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @MaxLength(128, { each: true })
  tables?: string[];

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  includeSchema?: boolean;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  includeData?: boolean;

  @ApiPropertyOptional({ enum: FORMATS })
  @IsOptional()
  @IsIn(FORMATS, { message: oneOfMessage('format', FORMATS) })
  format?: DumpFormat;

  @ApiPropertyOptional({ enum: COMPRESSIONS })
  @IsOptional()
  @IsIn(COMPRESSIONS, { message: oneOfMessage('compression', COMPRESSIONS) })
  compression?: Compression;

  @ApiPropertyOptional({ type: Boolean, nullable: true, description: "Encrypt its backups (age); omitted or null: the target's BACKUP_TARGET_<NAME>_ENCRYPT, else BACKUP_ENCRYPTION_DEFAULT" })
  @IsOptional()
  @IsBoolean({ message: 'encrypt must be true, false or null' })
  encrypt?: boolean | null;

  @StorageNames("Destinations of its backups (GET /storages), checked when saved; omitted or null: the target's BACKUP_TARGET_<NAME>_STORAGES, else BACKUP_STORAGES", true)
  storages?: string[] | null;

  @ApiPropertyOptional({ description: 'Name of a retention policy (GET /retention/policies); defaults to RETENTION_DEFAULT_POLICY', example: 'gfs' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  retentionPolicy?: string;

  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

/** Every field optional; `cron` and `preset` replace each other. `null` clears retentionPolicy and storages. */
@ApiSchema({ name: 'BmUpdateScheduleDto' })
export class UpdateScheduleDto extends PartialType(CreateScheduleDto) {}

@ApiSchema({ name: 'BmScheduleResponse' })
export class ScheduleResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() target!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) cron!: string | null;
  @ApiPropertyOptional({ nullable: true, enum: PRESET_NAMES }) preset!: string | null;
  @ApiProperty({ description: 'The expression that runs: `cron`, or the preset\'s' }) expression!: string;
  @ApiProperty() timezone!: string;
  @ApiProperty({ enum: BackupType }) type!: string;
  @ApiProperty() scope!: string;
  @ApiPropertyOptional({ type: [String], nullable: true, description: 'Tables of a `selective` backup, in the canonical form' }) tables!: string[] | null;
  @ApiProperty() includeSchema!: boolean;
  @ApiProperty() includeData!: boolean;
  @ApiPropertyOptional({ type: String, nullable: true }) format!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) compression!: string | null;
  @ApiPropertyOptional({ type: Boolean, nullable: true, description: "null: the target's, else the global default" }) encrypt!: boolean | null;
  @ApiPropertyOptional({ type: [String], nullable: true, description: "Destinations of its backups; null: the target's, else the configured defaults" }) storages!: string[] | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'null: the default policy' }) retentionPolicy!: string | null;
  @ApiProperty({ description: 'The policy in effect' }) effectiveRetentionPolicy!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) description!: string | null;
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ description: 'Created from configuration on first start' }) isDefault!: boolean;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description: 'Next run; null when disabled' }) nextRunAt!: Date | null;
  @ApiProperty({ type: [Date], description: 'The next five runs (empty when disabled)' }) nextRuns!: Date[];
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) lastRunAt!: Date | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'Status of the last backup it started' }) lastStatus!: string | null;
  @ApiProperty({ description: 'The last backup it started is usable but degraded: some destination lacks its copy (see that backup\'s `failedDestinations`)' }) lastBackupDegraded!: boolean;
  @ApiPropertyOptional({ type: String, nullable: true }) lastBackupId!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) lastError!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) createdBy!: string | null;
  @ApiProperty() createdAt!: Date;
  @ApiProperty() updatedAt!: Date;
}
