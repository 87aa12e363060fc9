import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsEnum, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { StorageNames } from './storage-names.js';
import { TABLE_NAMES_DOC } from '../../engines/table-names.js';
import { BackupType } from '../entities/backup-record.entity.js';
import { COMPRESSIONS, FORMATS, oneOfMessage, SCOPES, type BackupScopeKind, type Compression, type DumpFormat } from '../../common/vocabulary.js';

@ApiSchema({ name: 'BmCreateBackupDto' })
export class CreateBackupDto {
  @ApiProperty({ description: 'Name of a configured target (see GET /targets)', example: 'app' })
  @IsString()
  @MaxLength(64)
  @Matches(/^[a-z0-9_]+$/, { message: 'target must be a configured target name (lower-case letters, digits, _)' })
  target!: string;

  @ApiPropertyOptional({ enum: BackupType, default: BackupType.Manual })
  @IsOptional()
  @IsEnum(BackupType, { message: `type must be one of: ${Object.values(BackupType).join(', ')}` })
  type?: BackupType;

  @ApiPropertyOptional({ maxLength: 500, example: 'before the 2.3 migration' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;

  @ApiPropertyOptional({ enum: COMPRESSIONS, description: 'Defaults to the configured BACKUP_COMPRESSION (zstd)' })
  @IsOptional()
  @IsIn(COMPRESSIONS, { message: oneOfMessage('compression', COMPRESSIONS) })
  compression?: Compression;

  @ApiPropertyOptional({
    description:
      "Encrypt the artifact (age v1, to BACKUP_ENCRYPTION_RECIPIENTS or with the passphrase). Defaults to the target's BACKUP_TARGET_<NAME>_ENCRYPT, else BACKUP_ENCRYPTION_DEFAULT",
    example: true,
  })
  @IsOptional()
  @IsBoolean({ message: 'encrypt must be true or false' })
  encrypt?: boolean;

  @ApiPropertyOptional({ minimum: 1, maximum: 36500, description: 'Days to keep; sets expiresAt' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(36500)
  retentionDays?: number;

  @ApiPropertyOptional({
    enum: SCOPES,
    default: 'full',
    description: '`full`: the whole database; `partial`: the target\'s configured core tables (BACKUP_TARGET_<NAME>_CORE_TABLES); `selective`: the tables named in `tables`',
  })
  @IsOptional()
  @IsIn(SCOPES, { message: oneOfMessage('scope', SCOPES) })
  scope?: BackupScopeKind;

  @ApiPropertyOptional({
    type: [String],
    maxItems: 1000,
    example: ['customers', 'sales.orders', '"Mixed Case"'],
    description: `Tables of a \`selective\` backup; each must exist. ${TABLE_NAMES_DOC} The backup records them in the canonical (listed) form.`,
  })
  @IsOptional()
  @IsArray({ message: 'tables must be an array of table names' })
  @ArrayMaxSize(1000, { message: 'tables may name at most 1000 tables' })
  @IsString({ each: true, message: 'tables must hold only strings' })
  @MaxLength(256, { each: true, message: 'tables: each name must be at most 256 characters' })
  @Matches(/^[^\u0000]+$/, { each: true, message: 'tables: names must be non-empty and hold no NUL character' })
  tables?: string[];

  @ApiPropertyOptional({ default: true, description: 'Include table definitions (and, for full backups, views, routines, triggers and events). false = data only.' })
  @IsOptional()
  @IsBoolean({ message: 'includeSchema must be true or false' })
  includeSchema?: boolean;

  @ApiPropertyOptional({ default: true, description: 'Include rows. false = schema only.' })
  @IsOptional()
  @IsBoolean({ message: 'includeData must be true or false' })
  includeData?: boolean;

  @ApiPropertyOptional({
    enum: FORMATS,
    description: 'PostgreSQL only: `plain` SQL (psql) or a `custom` archive (pg_restore). Defaults to BACKUP_PG_FORMAT; MySQL targets are always `plain`.',
  })
  @IsOptional()
  @IsIn(FORMATS, { message: oneOfMessage('format', FORMATS) })
  format?: DumpFormat;

  @StorageNames("Destinations to write the backup to at once (GET /storages); default: the schedule's, else the target's BACKUP_TARGET_<NAME>_STORAGES, else BACKUP_STORAGES. The database is dumped once")
  storages?: string[];
}
