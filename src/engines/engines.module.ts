import { Module } from '@nestjs/common';
import { ProcessRunner } from '../common/process-runner.js';
import { DATABASE_ENGINES } from './engine.interface.js';
import { EnginesService } from './engines.service.js';
import { MysqlEngine } from './mysql/mysql.engine.js';
import { PostgresEngine } from './postgres/postgres.engine.js';

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
  ],
  exports: [EnginesService, ProcessRunner, PostgresEngine, MysqlEngine],
})
export class EnginesModule {}
