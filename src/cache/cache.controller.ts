import { Body, Controller, Delete, Get, HttpCode, Query } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { CurrentActor } from '../auth/actor.decorator.js';
import { MinRole, Role, type Actor } from '../auth/roles.js';
import { LibraryController } from '../common/library-controller.decorator.js';
import { CacheService } from './cache.service.js';
import { CacheClearResponse, CacheHistoryPage, CacheHistoryQuery, ClearCacheDto } from './dto/cache.dto.js';
import { ApiErrors, BODY_ERRORS } from '../common/api-errors.decorator.js';
import { ErrorCode } from '../common/error-codes.js';

@LibraryController('cache', { forbidden: 'Needs the admin role' })
@Controller('cache')
@MinRole(Role.Admin)
export class CacheController {
  constructor(private readonly cache: CacheService) {}

  @Delete()
  @ApiBody({
    type: ClearCacheDto,
    examples: {
    memory: { summary: "Clear the service's in-memory cache", value: { cacheType: 'memory' } },
  },
  })
  @ApiErrors([...BODY_ERRORS, ErrorCode.StorageRefused])
  @HttpCode(200)
  @ApiOperation({ summary: 'Clear caches: Redis keys under the configured prefixes, sessions, the in-memory store, the catalog query cache, files under the root' })
  @ApiOkResponse({ type: CacheClearResponse })
  clear(@Body() dto: ClearCacheDto, @CurrentActor() actor: Actor) {
    return this.cache.clear(dto, actor);
  }

  @Get('history')
  @ApiErrors([ErrorCode.ValidationFailed])
  @ApiOperation({ summary: 'Past cache clearing, newest first' })
  @ApiOkResponse({ type: CacheHistoryPage })
  history(@Query() q: CacheHistoryQuery) {
    return this.cache.list(q);
  }
}
