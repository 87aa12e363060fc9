import { Inject, Module, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { getDataSourceToken, getRepositoryToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { CATALOG_CONNECTION, openCatalog } from './catalog.js';
import { CATALOG_ENTITIES } from './entities.js';

/** Token of the catalog DataSource (`@InjectDataSource(CATALOG_CONNECTION)`). */
export const CATALOG_DATA_SOURCE = getDataSourceToken(CATALOG_CONNECTION);

const dataSourceProvider: Provider = {
  provide: CATALOG_DATA_SOURCE,
  inject: [BACKUP_MANAGER_OPTIONS],
  useFactory: (o: BackupManagerOptions): Promise<DataSource> => openCatalog(o.catalog),
};

/** Repositories under the same tokens `TypeOrmModule.forFeature(entities, CATALOG_CONNECTION)` uses. */
const repositoryProviders: Provider[] = CATALOG_ENTITIES.map((entity) => ({
  provide: getRepositoryToken(entity, CATALOG_CONNECTION),
  inject: [CATALOG_DATA_SOURCE],
  useFactory: (ds: DataSource) => ds.getRepository(entity),
}));

/** Closes the catalog connection (always the library's own, also beside a host's DataSource). */
class CatalogCloser implements OnApplicationShutdown {
  constructor(@Inject(CATALOG_DATA_SOURCE) private readonly ds: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

/**
 * The catalog connection, opened and migrated (under a lock) before anything uses it: to its own
 * URL or SQLite file, or into the database of the host's DataSource (`catalog.dataSource`).
 */
@Module({
  providers: [dataSourceProvider, ...repositoryProviders, CatalogCloser],
  exports: [CATALOG_DATA_SOURCE, ...repositoryProviders.map((p) => (p as { provide: string }).provide)],
})
export class CatalogModule {}
