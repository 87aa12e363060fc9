import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class BackupBrief {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() status!: string;
  @ApiProperty() createdAt!: Date;
  @ApiPropertyOptional({ nullable: true }) completedAt!: Date | null;
  @ApiPropertyOptional({ nullable: true }) sizeBytes!: number | null;
}

export class TargetInfo {
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['postgres', 'mysql'] }) engine!: string;
  @ApiProperty() database!: string;
  @ApiPropertyOptional({ nullable: true }) sizeBytes!: number | null;
  @ApiPropertyOptional({ nullable: true }) tableCount!: number | null;
  @ApiPropertyOptional({ nullable: true, description: 'From the planner statistics; approximate' }) rowEstimate!: number | null;
  @ApiPropertyOptional({ type: BackupBrief, nullable: true, description: 'Newest backup, any status' }) lastBackup!: BackupBrief | null;
  @ApiPropertyOptional({ type: BackupBrief, nullable: true, description: 'Newest COMPLETED or VERIFIED backup that holds the data (full scope, schema and data): the one freshness counts' }) lastSuccessfulBackup!: BackupBrief | null;
  @ApiPropertyOptional({ description: 'Why the database statistics could not be read' }) error?: string;
}

export class StorageInfo {
  @ApiProperty() dir!: string;
  @ApiPropertyOptional({ nullable: true, description: 'Bytes of artifacts and manifests' }) usedBytes!: number | null;
  @ApiPropertyOptional({ nullable: true, description: 'Free on the storage filesystem' }) freeBytes!: number | null;
  @ApiPropertyOptional({ nullable: true }) totalBytes!: number | null;
  @ApiPropertyOptional() error?: string;
}

export class QueueInfo {
  @ApiProperty() prefix!: string;
  @ApiProperty({ type: Object, example: { active: 0, waiting: 1, delayed: 0, failed: 0, completed: 12, prioritized: 0 } }) counts!: Record<string, number>;
  @ApiPropertyOptional({ nullable: true, description: 'Live BullMQ workers connected to the queue' }) workers!: number | null;
  @ApiPropertyOptional() error?: string;
}

export class ProcessInfo {
  @ApiProperty() pid!: number;
  @ApiProperty({ example: 'v20.19.0' }) nodeVersion!: string;
  @ApiProperty() platform!: string;
  @ApiProperty() arch!: string;
  @ApiProperty() hostname!: string;
  @ApiProperty() cpus!: number;
  @ApiProperty({ type: [Number], description: '1, 5 and 15 minute load averages' }) loadAverage!: number[];
  @ApiProperty({ type: Object, example: { rss: 1, heapTotal: 1, heapUsed: 1, external: 1 } }) memory!: Record<string, number>;
}

export class SystemInfo {
  @ApiProperty({ example: '0.1.0' }) version!: string;
  @ApiProperty() startedAt!: Date;
  @ApiProperty() uptimeSeconds!: number;
  @ApiProperty({ type: ProcessInfo }) process!: ProcessInfo;
  @ApiProperty({ type: Object, description: 'Dump client versions by engine', example: { postgres: 'pg_dump (PostgreSQL) 15.20' } })
  clients!: Record<string, string>;
  @ApiProperty({ type: StorageInfo }) storage!: StorageInfo;
  @ApiProperty({ type: [TargetInfo] }) targets!: TargetInfo[];
  @ApiProperty({ type: QueueInfo }) queue!: QueueInfo;
}

export class HealthResponse {
  @ApiProperty({ enum: ['ok', 'error', 'degraded', 'shutting_down'] }) status!: string;
  @ApiPropertyOptional({ type: Object, description: 'Indicators that are up' }) info?: Record<string, unknown>;
  @ApiPropertyOptional({ type: Object, description: 'Indicators that are down, each with a `message`' }) error?: Record<string, unknown>;
  @ApiProperty({ type: Object }) details!: Record<string, unknown>;
}
