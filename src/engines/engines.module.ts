import { Module } from '@nestjs/common';
import { availableParallelism } from 'node:os';
import { tablePrefixOf } from '../catalog/entities.js';
import { ProcessRunner } from '../common/process-runner.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import { DATABASE_ENGINES } from './engine.interface.js';
import { EnginesService } from './engines.service.js';
import { MysqlEngine } from './mysql/mysql.engine.js';
import { MysqlRestorer } from './mysql/mysql.restorer.js';
import { PostgresEngine } from './postgres/postgres.engine.js';
import { PostgresRestorer } from './postgres/postgres.restorer.js';
import { DATABASE_RESTORERS } from './restorer.interface.js';
import { Restorers } from './restorers.js';

/** Dump engines and restorers, one of each per database family, picked by kind. */
@Module({
  providers: [
    ProcessRunner,
    PostgresEngine,
    MysqlEngine,
    {
      provide: DATABASE_ENGINES,
      useFactory: (pgEngine: PostgresEngine, mysqlEngine: MysqlEngine) => [pgEngine, mysqlEngine],
      inject: [PostgresEngine, MysqlEngine],
    },
    EnginesService,
    {
      provide: PostgresRestorer,
      useFactory: (engine: PostgresEngine, runner: ProcessRunner, options: BackupManagerOptions) => new PostgresRestorer(engine, runner, options.tempDir, options.dump.restoreJobs || availableParallelism()),
      inject: [PostgresEngine, ProcessRunner, BACKUP_MANAGER_OPTIONS],
    },
    {
      provide: MysqlRestorer,
      useFactory: (runner: ProcessRunner, options: BackupManagerOptions) => new MysqlRestorer(runner, options.tempDir, tablePrefixOf(options.catalog)),
      inject: [ProcessRunner, BACKUP_MANAGER_OPTIONS],
    },
    {
      provide: DATABASE_RESTORERS,
      useFactory: (pg: PostgresRestorer, my: MysqlRestorer) => [pg, my],
      inject: [PostgresRestorer, MysqlRestorer],
    },
    Restorers,
  ],
  exports: [EnginesService, ProcessRunner, PostgresEngine, MysqlEngine, Restorers],
})
export class EnginesModule {}
