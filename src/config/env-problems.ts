import { ENV_VARIABLES } from './env-variables.js';
import type { BackupManagerOptions } from './options.js';
import type { OptionProblem } from './validate-options.js';

/** The variable that sets each option (by option path; the longest prefix wins), to name it in errors. */
const VARIABLE_OF: Record<string, string> = {
  ...Object.fromEntries(ENV_VARIABLES.filter((v) => v.path && !v.path.includes('[') && !v.name.includes('<')).map((v) => [v.path!, v.name])),
  timezone: 'SCHEDULER_TIMEZONE/TZ',
  'auth.jwtSecret': 'JWT_SECRET',
  'encryption.recipientsFile': 'BACKUP_ENCRYPTION_RECIPIENTS',
};
const TARGET_VARIABLE: Record<string, string> = { passwordFile: 'PASSWORD_FILE', coreTables: 'CORE_TABLES', restoreDatabases: 'RESTORE_DATABASES', encrypt: 'ENCRYPT', storages: 'STORAGES' };
const STORAGE_VARIABLE: Record<string, string> = { accessKeyId: 'ACCESS_KEY_ID', secretAccessKeyFile: 'SECRET_ACCESS_KEY_FILE' };

/**
 * Option problems in the environment's terms: `CACHE_FILE_ROOT must not ...`. A variable whose
 * value could not even be parsed (already in `parsed`) is not reported twice.
 */
export function variableProblems(found: OptionProblem[], o: BackupManagerOptions, parsed: string[]): string[] {
  const out: string[] = [];
  for (const { path, message: said } of found) {
    let message = said;
    let variable: string;
    let rest = '';
    const target = /^targets\[(\d+)\](?:\.(\w+))?/.exec(path);
    const plan = /^schedules\.defaultPlans\[(\d+)\]/.exec(path);
    const storage = /^storages\[(\d+)\](?:\.(\w+))?/.exec(path);
    if (storage) {
      variable = `BACKUP_STORAGE_${String(o.storages?.[Number(storage[1])]?.name ?? '?').toUpperCase()}_${STORAGE_VARIABLE[storage[2] ?? ''] ?? 'URL'}`;
    } else if (target) {
      const suffix = TARGET_VARIABLE[target[2] ?? ''];
      variable = `BACKUP_TARGET_${(o.targets[Number(target[1])]?.name ?? '?').toUpperCase()}_${suffix ?? 'URL'}`;
      if (!suffix && target[2]) rest = ` (${target[2]})`;
    } else if (/^schedules\.retention\.policies\[\d+\]$/.test(path)) {
      // A policy from RETENTION_POLICIES (or a built-in one): say what is wrong with it.
      variable = 'RETENTION_POLICIES:';
      rest = '';
      message = message.replace(/^is not a valid policy: /, '');
    } else if (plan) {
      variable = `SCHEDULER_${String(o.schedules?.defaultPlans[Number(plan[1])]?.type).toUpperCase()}_CRON`;
    } else {
      const prefix = Object.keys(VARIABLE_OF)
        .filter((k) => path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`))
        .sort((a, b) => b.length - a.length)[0];
      variable = prefix ? VARIABLE_OF[prefix] : path;
      rest = prefix ? path.slice(prefix.length) : '';
    }
    if (parsed.some((p) => p.startsWith(`${variable} `) || p.startsWith(`${variable}:`))) continue;
    out.push(`${variable}${rest} ${message}`);
  }
  return out;
}
