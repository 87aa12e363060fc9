import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, Matches } from 'class-validator';

/**
 * A `storages: [...]` field (requests, schedules): at most 8 destination names. Whether each is
 * configured is checked by `StorageRegistry.resolve`, which names the configured ones.
 */
export function StorageNames(description: string, nullable = false): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ type: [String], example: ['local', 'offsite'], description, ...(nullable ? { nullable: true } : {}) }),
    IsOptional(),
    IsArray({ message: 'storages must be an array of storage names' }),
    ArrayMaxSize(8, { message: 'storages may name at most 8 destinations' }),
    IsString({ each: true, message: 'storages must hold only storage names' }),
    Matches(/^[a-z0-9_]{1,32}$/, { each: true, message: 'storages: each must be a configured storage name (lower-case letters, digits, _)' }),
  );
}
