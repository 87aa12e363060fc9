import { ListenError } from '../common/lifecycle.js';
import { ConfigError, loadConfig, type AppConfig } from './env.js';
import type { AppRole } from './options.js';

/**
 * Loads the config, runs `start`, and exits non-zero with a clear message if either fails: 78 for
 * an invalid configuration or an HTTP port that cannot be bound (in use), 1 otherwise.
 */
export async function runOrExit(start: (config: AppConfig) => Promise<void>, roleOverride?: AppRole): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig(process.env, { roleOverride });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`backup-manager: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  try {
    await start(config);
  } catch (err) {
    if (err instanceof ListenError) {
      process.stderr.write(`backup-manager: ${err.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`backup-manager: start-up failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
