import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { ENGINES, type EngineKind } from '../../common/vocabulary.js';

@ApiSchema({ name: 'BmBackupBrief' })
export class BackupBrief {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() status!: string;
  @ApiProperty() createdAt!: Date;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) completedAt!: Date | null;
  @ApiPropertyOptional({ type: Number, nullable: true }) sizeBytes!: number | null;
}

@ApiSchema({ name: 'BmTargetInfo' })
export class TargetInfo {
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ENGINES }) engine!: EngineKind;
  @ApiProperty() database!: string;
  @ApiPropertyOptional({ type: Number, nullable: true }) sizeBytes!: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true }) tableCount!: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'From the planner statistics; approximate' }) rowEstimate!: number | null;
  @ApiPropertyOptional({ type: BackupBrief, nullable: true, description: 'Newest backup, any status' }) lastBackup!: BackupBrief | null;
  @ApiPropertyOptional({ type: BackupBrief, nullable: true, description: 'Newest COMPLETED or VERIFIED backup that holds the data (full scope, schema and data): the one freshness counts' }) lastSuccessfulBackup!: BackupBrief | null;
  @ApiPropertyOptional({ description: 'Why the database statistics could not be read' }) error?: string;
}

@ApiSchema({ name: 'BmStorageInfo' })
export class StorageInfo {
  @ApiProperty() dir!: string;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Bytes of artifacts and manifests' }) usedBytes!: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Free on the storage filesystem' }) freeBytes!: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true }) totalBytes!: number | null;
  @ApiPropertyOptional() error?: string;
}

@ApiSchema({ name: 'BmQueueInfo' })
export class QueueInfo {
  @ApiProperty() prefix!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { active: 0, waiting: 1, delayed: 0, failed: 0, completed: 12, prioritized: 0 } }) counts!: Record<string, number>;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Live BullMQ workers connected to the queue' }) workers!: number | null;
  @ApiPropertyOptional() error?: string;
}

@ApiSchema({ name: 'BmProcessInfo' })
export class ProcessInfo {
  @ApiProperty() pid!: number;
  @ApiProperty({ example: 'v20.19.0' }) nodeVersion!: string;
  @ApiProperty() platform!: string;
  @ApiProperty() arch!: string;
  @ApiProperty() hostname!: string;
  @ApiProperty() cpus!: number;
  @ApiProperty({ type: [Number], description: '1, 5 and 15 minute load averages' }) loadAverage!: number[];
  @ApiProperty({ type: 'object', additionalProperties: true, example: { rss: 1, heapTotal: 1, heapUsed: 1, external: 1 } }) memory!: Record<string, number>;
}

@ApiSchema({ name: 'BmSystemInfo' })
export class SystemInfo {
  @ApiProperty({ example: '0.1.0' }) version!: string;
  @ApiProperty() startedAt!: Date;
  @ApiProperty() uptimeSeconds!: number;
  @ApiProperty({ type: ProcessInfo }) process!: ProcessInfo;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Dump client versions by engine', example: { postgres: 'pg_dump (PostgreSQL) 15.20' } })
  clients!: Record<string, string>;
  @ApiProperty({ type: StorageInfo }) storage!: StorageInfo;
  @ApiProperty({ type: [TargetInfo] }) targets!: TargetInfo[];
  @ApiProperty({ type: QueueInfo }) queue!: QueueInfo;
}

@ApiSchema({ name: 'BmHealthResponse' })
export class HealthResponse {
  @ApiProperty({ enum: ['ok', 'error', 'degraded', 'shutting_down'] }) status!: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Indicators that are up' }) info?: Record<string, unknown>;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Indicators that are down, each with a `message`' }) error?: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true }) details!: Record<string, unknown>;
}
