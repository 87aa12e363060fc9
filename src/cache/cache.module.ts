import { Module, type DynamicModule } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { CacheController } from './cache.controller.js';
import { CacheService } from './cache.service.js';

/** Cache clearing with a history (admin only). */
@Module({})
export class CacheModule {
  static register(opts: { controllers: boolean }): DynamicModule {
    return {
      module: CacheModule,
      imports: [CatalogModule],
      controllers: opts.controllers ? [CacheController] : [],
      providers: [CacheService],
      exports: [CacheService],
    };
  }
}
