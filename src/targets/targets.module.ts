import { Module, type DynamicModule } from '@nestjs/common';
import { TargetsController } from './targets.controller.js';

/**
 * The targets' HTTP surface (`GET /targets`, `GET /targets/:name/tables`). `TargetsService`
 * itself is shared plumbing every module needs, provided once by the core module.
 */
@Module({})
export class TargetsModule {
  static register(opts: { controllers: boolean }): DynamicModule {
    return { module: TargetsModule, controllers: opts.controllers ? [TargetsController] : [] };
  }
}
