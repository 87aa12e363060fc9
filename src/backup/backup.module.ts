import { Module, type DynamicModule } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ArtifactCommits } from './artifact-commit.js';
import { BackupCopies } from './backup-copies.service.js';
import { BackupRecopier } from './backup-recopier.service.js';
import { CatalogRebuild } from './catalog-rebuild.service.js';
import { CatalogController, StoragesController } from './storages.controller.js';
import { BackupReconciler } from './backup-reconciler.service.js';
import { BackupRunner } from './backup-runner.service.js';
import { BackupStatsService } from './backup-stats.service.js';
import { BackupsController } from './backups.controller.js';
import { BackupsService } from './backups.service.js';
import { EncryptionController, EncryptionOverviewService } from './encryption.controller.js';

/**
 * Registered once by BackupManagerModule and global inside the library, so the restore,
 * scheduler and other modules inject BackupsService without registering the runner twice.
 */
@Module({})
export class BackupModule {
  static register(opts: { controllers: boolean }): DynamicModule {
    return {
      module: BackupModule,
      global: true,
      imports: [CatalogModule],
      controllers: opts.controllers ? [BackupsController, EncryptionController, StoragesController, CatalogController] : [],
      providers: [BackupsService, BackupRunner, BackupReconciler, BackupStatsService, ArtifactCommits, EncryptionOverviewService, BackupCopies, BackupRecopier, CatalogRebuild],
      exports: [BackupsService, BackupStatsService, BackupCopies, BackupRecopier, CatalogRebuild],
    };
  }
}
