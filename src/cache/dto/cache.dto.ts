import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsEnum, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { PageQuery, pageOf } from '../../common/page.dto.js';

export enum CacheType {
  All = 'all',
  Database = 'database',
  Session = 'session',
  File = 'file',
  Memory = 'memory',
  Redis = 'redis',
}

@ApiSchema({ name: 'BmClearCacheDto' })
export class ClearCacheDto {
  @ApiProperty({ enum: CacheType, description: 'What to clear; `all` clears every kind' })
  @IsEnum(CacheType, { message: `cacheType must be one of: ${Object.values(CacheType).join(', ')}` })
  cacheType!: CacheType;

  @ApiPropertyOptional({
    type: [String],
    description: 'Only these: Redis keys or `prefix*` patterns inside the configured prefixes; exact in-memory keys; relative paths (or `name*`) inside the file root',
    example: ['app-cache:users:*'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MinLength(1, { each: true })
  @MaxLength(512, { each: true })
  keys?: string[];
}

@ApiSchema({ name: 'BmCacheKindResult' })
export class CacheKindResult {
  @ApiProperty({ enum: CacheType }) type!: string;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Items removed; null when the store cannot count them' }) items!: number | null;
  @ApiPropertyOptional({ description: 'Why nothing was done (not configured, not enabled)' }) skipped?: string;
  @ApiPropertyOptional({ description: 'Why clearing failed' }) error?: string;
}

@ApiSchema({ name: 'BmCacheClearResponse' })
export class CacheClearResponse {
  @ApiProperty({ format: 'uuid', description: 'History entry id' }) id!: string;
  @ApiProperty({ enum: CacheType }) cacheType!: string;
  @ApiProperty({ description: 'Total items removed' }) itemsCleared!: number;
  @ApiProperty({ type: [CacheKindResult] }) results!: CacheKindResult[];
  @ApiProperty({ enum: ['success', 'failure'] }) outcome!: string;
  @ApiProperty() durationMs!: number;
}

export class CacheHistoryQuery extends PageQuery {}

@ApiSchema({ name: 'BmCacheHistoryEntry' })
export class CacheHistoryEntry extends CacheClearResponse {
  @ApiProperty() occurredAt!: Date;
  @ApiProperty() actorId!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) actorName!: string | null;
  @ApiPropertyOptional({ type: [String], nullable: true }) keys!: string[] | null;
}

@ApiSchema({ name: 'BmCacheHistoryPage' })
export class CacheHistoryPage extends pageOf(CacheHistoryEntry) {}
