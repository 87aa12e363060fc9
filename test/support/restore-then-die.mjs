/* global AbortController */
// Runs one restore through the built service code (dist) and SIGKILLs its own process
// `DIE_AFTER_MS` after the restore client started: a worker killed mid-restore, as the OOM killer
// does. Argument: the backup record as JSON. Configuration: the service's environment variables
// (DATA_DIR, BACKUP_TARGET_APP_URL, ...) and RESTORE_DATABASE.
import { basename } from 'node:path';
import { loadConfig } from '../../dist/src/config/env.js';
import { ProcessRunner } from '../../dist/src/common/process-runner.js';
import { PostgresEngine } from '../../dist/src/engines/postgres/postgres.engine.js';
import { PostgresRestorer } from '../../dist/src/engines/postgres/postgres.restorer.js';
import { ArtifactLoader } from '../../dist/src/restore/artifact-loader.js';
import { LocalStorage } from '../../dist/src/storage/local.storage.js';
import { TargetsService } from '../../dist/src/targets/targets.service.js';

class DyingRunner extends ProcessRunner {
  spawn(command, args, opts) {
    const child = super.spawn(command, args, opts);
    // The restorer runs the psql picked for the server's version, by its full path.
    if (basename(command) === 'psql') setTimeout(() => process.kill(process.pid, 'SIGKILL'), Number(process.env.DIE_AFTER_MS ?? 500));
    return child;
  }
}

const options = loadConfig(process.env).options;
const runner = new DyingRunner();
const restorer = new PostgresRestorer(new PostgresEngine(runner, options), runner, options.tempDir);
const loader = new ArtifactLoader(new LocalStorage(options), runner, options);
const target = await new TargetsService(options).resolve('app');
const record = JSON.parse(process.argv[2]);
await loader.restore(record, target, restorer, { database: process.env.RESTORE_DATABASE, dropExisting: true, signal: new AbortController().signal });
console.log('restore finished before the kill');
