import { EngineError } from '../common/errors.js';
import type { ProcessRunner } from '../common/process-runner.js';
import type { BackupManagerOptions, EngineKind } from '../config/options.js';
import type { EnginesService } from './engines.service.js';
import type { PostgresEngine } from './postgres/postgres.engine.js';
import { MysqlRestorer } from './mysql/mysql.restorer.js';
import { PostgresRestorer } from './postgres/postgres.restorer.js';
import type { DatabaseRestorer } from './restorer.interface.js';

/**
 * Picks the restore adapter for a target's engine. A plain class (not a provider) so the backup
 * runner and the restore module can each build one from services they already have.
 */
export class Restorers {
  private readonly byKind = new Map<EngineKind, DatabaseRestorer>();

  constructor(engines: EnginesService, runner: ProcessRunner, options: BackupManagerOptions) {
    for (const e of engines.all()) {
      if (e.kind === 'postgres') this.byKind.set('postgres', new PostgresRestorer(e as PostgresEngine, runner, options.tempDir));
      if (e.kind === 'mysql') this.byKind.set('mysql', new MysqlRestorer(runner, options.tempDir));
    }
  }

  for(kind: EngineKind): DatabaseRestorer {
    const r = this.byKind.get(kind);
    if (!r) throw new EngineError(`Restoring ${kind} databases is not supported yet`, false);
    return r;
  }
}
