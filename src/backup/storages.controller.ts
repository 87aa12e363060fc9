import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Matches } from 'class-validator';
import { randomBytes } from 'node:crypto';
import { MinRole, Role } from '../auth/roles.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { DomainError, ErrorCode } from '../common/errors.js';
import { LibraryController, ROLE_TOO_LOW } from '../common/library-controller.decorator.js';
import { StorageRegistry } from '../storage/storage-registry.js';
import { CatalogRebuild, type RebuildReport } from './catalog-rebuild.service.js';

@ApiSchema({ name: 'BmStorageResponse' })
class StorageResponse {
  @ApiProperty({ example: 'offsite' }) name!: string;
  @ApiProperty({ enum: ['local', 's3'] }) kind!: 'local' | 's3';
  @ApiProperty({ example: 's3://backups/prod/ at https://s3.example.com (eu-west-1)', description: 'Where it is; never a secret' }) location!: string;
  @ApiProperty({ description: 'A backup whose request, schedule and target name no destination goes here' }) default!: boolean;
  @ApiProperty({ description: 'It answered just now (an S3 HEAD of the bucket; a writable directory)' }) reachable!: boolean;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'Why it is not reachable' }) error!: string | null;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Free bytes where known (local filesystems)' }) freeBytes!: number | null;
}

@ApiSchema({ name: 'BmStorageTestResponse' })
class StorageTestResponse {
  @ApiProperty({ example: 'offsite' }) name!: string;
  @ApiProperty({ description: 'The probe object was written, read back equal and deleted' }) ok!: boolean;
  @ApiProperty({ example: 'bm-probe/probe-3f2a9c1b.json' }) key!: string;
  @ApiProperty({ example: 42 }) durationMs!: number;
}

@ApiSchema({ name: 'BmCatalogRebuildDto' })
export class CatalogRebuildDto {
  @ApiPropertyOptional({ example: 'offsite', description: 'Scan only this destination (default: every one)' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9_]{1,32}$/, { message: 'storage must be a configured storage name (lower-case letters, digits, _)' })
  storage?: string;

  @ApiPropertyOptional({ default: false, description: 'Report what would change; change nothing' })
  @IsOptional()
  @IsBoolean({ message: 'dryRun must be true or false' })
  dryRun?: boolean;
}

/** The destinations artifacts are written to: what they are, whether they answer, a write test. */
@LibraryController('storages', { forbidden: ROLE_TOO_LOW })
@Controller('storages')
export class StoragesController {
  constructor(private readonly registry: StorageRegistry) {}

  @Get()
  @MinRole(Role.Viewer)
  @ApiOperation({ summary: 'The configured destinations, whether each answers, and free space where known' })
  @ApiOkResponse({ type: [StorageResponse] })
  async list(): Promise<StorageResponse[]> {
    return Promise.all(
      this.registry.ordered().map(async ({ name, backend }) => {
        const error = await backend.check().then(
          () => null,
          (err: Error) => err.message,
        );
        const freeBytes = error ? null : ((await backend.freeBytes().catch(() => undefined)) ?? null);
        return { name, kind: backend.kind, location: backend.location, default: this.registry.defaults.includes(name), reachable: !error, error, freeBytes };
      }),
    );
  }

  @Post(':name/test')
  @HttpCode(200)
  @MinRole(Role.Admin)
  @ApiParam({ name: 'name', example: 'offsite' })
  @ApiOperation({ summary: 'Write a probe object to a destination, read it back and delete it' })
  @ApiOkResponse({ type: StorageTestResponse })
  @ApiErrors([ErrorCode.StorageNotFound, ErrorCode.StorageUnavailable])
  async test(@Param('name') name: string): Promise<StorageTestResponse> {
    const backend = this.registry.get(name);
    const key = `bm-probe/probe-${randomBytes(4).toString('hex')}.json`;
    const probe = { probe: randomBytes(16).toString('hex'), at: new Date().toISOString() };
    const started = Date.now();
    const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
      try {
        return await run();
      } catch (err) {
        throw new DomainError(ErrorCode.StorageUnavailable, `storage "${name}": could not ${what} the probe object ${key}: ${(err as Error).message}`);
      }
    };
    await step('write', () => backend.writeJson(key, probe));
    const back = await step('read back', () => backend.readJson<typeof probe>(key));
    const deleted = await step('delete', () => backend.delete(key));
    if (back?.probe !== probe.probe) throw new DomainError(ErrorCode.StorageUnavailable, `storage "${name}": the probe object ${key} read back differs from what was written`);
    if (!deleted) throw new DomainError(ErrorCode.StorageUnavailable, `storage "${name}": the probe object ${key} was not there to delete`);
    return { name, ok: true, key, durationMs: Date.now() - started };
  }
}

/** Disaster recovery: the catalog from the manifests in storage. */
@LibraryController('catalog', { forbidden: ROLE_TOO_LOW })
@Controller('catalog')
export class CatalogController {
  constructor(private readonly rebuilder: CatalogRebuild) {}

  @Post('rebuild')
  @ApiBody({
    type: CatalogRebuildDto,
    examples: {
      dryRun: { summary: 'What a rebuild from every destination would change', value: { dryRun: true } },
      offsite: { summary: 'Rebuild from one destination (after losing the machine)', value: { storage: 'local' } },
    },
  })
  @HttpCode(200)
  @MinRole(Role.Admin)
  @ApiOperation({
    summary:
      "Recreate missing backup records (original ids) from a destination's manifests, checking each artifact against its manifest's size and SHA-256; mark copies whose artifact is gone MISSING. Running it again changes nothing",
  })
  @ApiOkResponse({ description: 'What was (or, with dryRun, would be) recreated, added and marked missing, per destination' })
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.StorageNotFound])
  rebuild(@Body() dto: CatalogRebuildDto): Promise<RebuildReport> {
    return this.rebuilder.rebuild({ storage: dto.storage, dryRun: dto.dryRun });
  }
}
