import { Module, type DynamicModule } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ArtifactLoader } from './artifact-loader.js';
import { BackupRestoreController, RestoresController } from './restore.controller.js';
import { RestoreDestinations } from './restore-destinations.js';
import { RestoreRunner } from './restore-runner.service.js';
import { RestoresService } from './restores.service.js';
import { ScratchDatabases } from './scratch-databases.js';
import { Verifier } from './verifier.service.js';

/**
 * Restores, verification and restore drills. Global inside the library like the backup module,
 * so the scheduler injects RestoresService for its drills.
 */
@Module({})
export class RestoreModule {
  static register(opts: { controllers: boolean }): DynamicModule {
    return {
      module: RestoreModule,
      global: true,
      imports: [CatalogModule],
      controllers: opts.controllers ? [BackupRestoreController, RestoresController] : [],
      providers: [RestoresService, RestoreRunner, RestoreDestinations, Verifier, ScratchDatabases, ArtifactLoader],
      exports: [RestoresService],
    };
  }
}
