import { Module, type DynamicModule } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { BackupRestoreController, RestoresController } from './restore.controller.js';
import { RestoreDestinations } from './restore-destinations.js';
import { RestoreRunner } from './restore-runner.service.js';
import { RestoresService } from './restores.service.js';
import { ScratchDatabases } from './scratch-databases.js';
import { Verifier } from './verifier.service.js';

/** Restores, verification and restore drills. */
@Module({})
export class RestoreModule {
  static register(opts: { controllers: boolean }): DynamicModule {
    return {
      module: RestoreModule,
      imports: [CatalogModule],
      controllers: opts.controllers ? [BackupRestoreController, RestoresController] : [],
      providers: [RestoresService, RestoreRunner, RestoreDestinations, Verifier, ScratchDatabases],
      exports: [RestoresService],
    };
  }
}
