import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsEnum, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { TABLE_NAMES_DOC } from '../../engines/table-names.js';
import { PageQuery, pageOf } from '../../common/page.dto.js';
import { DATABASE_NAME } from '../../engines/restorer.interface.js';
import { RestoreStatus, type RestoreRun } from '../entities/restore-run.entity.js';
import { ENGINES, type EngineKind } from '../../common/vocabulary.js';

@ApiSchema({ name: 'BmRestoreBackupDto' })
export class RestoreBackupDto {
  @ApiProperty({ description: 'Must be `true`: a restore replaces the contents of the destination database', example: true })
  @IsOptional()
  @IsBoolean({ message: 'confirm must be true' })
  confirm?: boolean;

  @ApiPropertyOptional({
    description:
      'Restore into this database on the same server instead of the target\'s own (the original is not touched): a database that does not exist yet (created), ' +
      'or one allowed for the target (BACKUP_TARGET_<NAME>_RESTORE_DATABASES). Never a system database or a bm_* name. Default: the target\'s own database, ' +
      'or for a safety backup of another database, that database',
    example: 'app_restored',
    pattern: DATABASE_NAME.source,
  })
  @IsOptional()
  @IsString()
  @Matches(DATABASE_NAME, { message: 'targetDatabase must be 1 to 63 letters, digits or underscores' })
  targetDatabase?: string;

  @ApiPropertyOptional({
    description:
      'Drop what the destination holds before loading (inside the same transaction on PostgreSQL). Default: true when restoring into the database the backup was taken from ' +
      '(the target\'s own, or the one a safety backup holds), false otherwise',
  })
  @IsOptional()
  @IsBoolean()
  dropExisting?: boolean;

  @ApiPropertyOptional({ description: 'Allow restoring a backup that is not COMPLETED or VERIFIED (e.g. CORRUPTED)', default: false })
  @IsOptional()
  @IsBoolean()
  force?: boolean;

  @ApiPropertyOptional({ description: 'Back up the destination first when it exists (through the target whose database it is, if any), and restore only if that succeeded', default: true })
  @IsOptional()
  @IsBoolean()
  safetyBackup?: boolean;

  @ApiPropertyOptional({
    description:
      'Restore only these tables out of the backup: they are replaced (or created), and nothing else in the destination changes. The safety backup then holds just these tables. ' +
      'A table the backup does not hold is refused (400 TABLE_NOT_IN_BACKUP). ' +
      TABLE_NAMES_DOC,
    type: [String],
    example: ['orders', 'sales.items'],
  })
  @IsOptional()
  @IsArray({ message: 'tables must be an array of table names' })
  @ArrayMinSize(1, { message: 'tables must name at least one table (leave it out to restore the whole backup)' })
  @ArrayMaxSize(1000, { message: 'tables may name at most 1000 tables' })
  @IsString({ each: true, message: 'tables must hold only strings' })
  @MaxLength(256, { each: true, message: 'tables: each name must be at most 256 characters' })
  @Matches(/^[^\u0000]+$/, { each: true, message: 'tables: names must be non-empty and hold no NUL character' })
  tables?: string[];
}

@ApiSchema({ name: 'BmVerifyBackupDto' })
export class VerifyBackupDto {
  @ApiPropertyOptional({ description: 'Also restore into a throwaway database and compare tables and row counts with those captured at backup time', default: false })
  @IsOptional()
  @IsBoolean()
  drill?: boolean;
}

export class ListRestoresQuery extends PageQuery {
  @ApiPropertyOptional({ enum: RestoreStatus })
  @IsOptional()
  @IsEnum(RestoreStatus, { message: `status must be one of: ${Object.values(RestoreStatus).join(', ')}` })
  status?: RestoreStatus;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(64)
  target?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  backupId?: string;
}

@ApiSchema({ name: 'BmRestoreRunResponse' })
export class RestoreRunResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) backupId!: string;
  @ApiProperty() target!: string;
  @ApiProperty({ enum: ENGINES }) engine!: EngineKind;
  @ApiProperty({ description: 'Database restored into' }) database!: string;
  @ApiProperty({ description: 'True when restoring into targetDatabase, not the target\'s own database' }) intoOtherDatabase!: boolean;
  @ApiProperty() dropExisting!: boolean;
  @ApiPropertyOptional({ type: [String], nullable: true, description: 'The tables restored out of the backup (canonical names), or null for the whole backup' }) tables!: string[] | null;
  @ApiProperty() force!: boolean;
  @ApiProperty({ description: 'Whether a safety backup is taken of the destination (when it exists at run time)' }) safetyBackup!: boolean;
  @ApiPropertyOptional({ type: String, nullable: true, format: 'uuid', description: 'The backup taken just before restoring' }) safetyBackupId!: string | null;
  @ApiProperty({ enum: RestoreStatus, description: 'QUEUED → RUNNING → COMPLETED, or FAILED, or CANCELLED (stopped by a worker shutdown before it committed). A run that started is never run again on its own' }) status!: RestoreStatus;
  @ApiPropertyOptional({ type: String, nullable: true, example: 'postgres:localhost:5432:app', description: 'The destination\'s physical database (engine:host:port:name) while QUEUED or RUNNING; null once ended' })
  activeKey!: string | null;
  @ApiProperty({ example: 'user:alice' }) requestedBy!: string;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description: 'When the run took the database lock and began' }) startedAt!: Date | null;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) completedAt!: Date | null;
  @ApiPropertyOptional({ type: Number, nullable: true }) durationMs!: number | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'Why the run FAILED or was CANCELLED, and what the destination database holds since' }) errorMessage!: string | null;
  @ApiProperty() attempts!: number;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true }) metadata!: Record<string, unknown> | null;
  @ApiProperty() createdAt!: Date;
  @ApiProperty() updatedAt!: Date;
}

/** A restore run as the API returns it: the documented fields only, whatever the entity grows. */
export function toRestoreRunResponse(r: RestoreRun): RestoreRunResponse {
  const { id, backupId, target, database, intoOtherDatabase, dropExisting, force, safetyBackup, safetyBackupId, status, activeKey } = r;
  const { requestedBy, startedAt, completedAt, durationMs, errorMessage, attempts, metadata, createdAt, updatedAt } = r;
  return {
    ...{ id, backupId, target, engine: r.engine as EngineKind, database, intoOtherDatabase, dropExisting, tables: restoreTables(r), force, safetyBackup, safetyBackupId, status, activeKey },
    ...{ requestedBy, startedAt, completedAt, durationMs, errorMessage, attempts, metadata, createdAt, updatedAt },
  };
}

@ApiSchema({ name: 'BmRestoreRunPage' })
export class RestoreRunPage extends pageOf(RestoreRunResponse) {}

@ApiSchema({ name: 'BmVerifyAccepted' })
export class VerifyAccepted {
  @ApiProperty({ format: 'uuid' }) backupId!: string;
  @ApiProperty() drill!: boolean;
  @ApiProperty({ description: 'Queue job id; the result lands on the backup (status VERIFIED or CORRUPTED, metadata.verification)' }) jobId!: string;
  @ApiProperty({ description: 'false: the same verification of this backup was already waiting, and this is its job' }) created!: boolean;
}

@ApiSchema({ name: 'BmRestoreStats' })
export class RestoreStats {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Restore runs by status', example: { COMPLETED: 3, FAILED: 1 } }) restores!: Record<string, number>;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Backups by verification outcome', example: { VERIFIED: 10, CORRUPTED: 0, unverified: 2 } }) verifications!: Record<string, number>;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) lastRestoreAt!: Date | null;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) lastVerifiedAt!: Date | null;
}

/** The tables a table-level restore restores (`metadata.tables`), or null for a whole backup. */
export function restoreTables(r: Pick<RestoreRun, 'metadata'>): string[] | null {
  const t = r.metadata?.tables;
  return Array.isArray(t) && t.every((x) => typeof x === 'string') ? (t as string[]) : null;
}
