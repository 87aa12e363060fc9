import { readFileSync, writeFileSync } from 'node:fs';
import { DEFAULTS } from './defaults.js';
import { ENV_VARIABLES, type EnvVariable } from './env-variables.js';
import { valueAt } from './validate-options.js';

/** Marks around the generated table in the README. */
export const ENV_TABLE_START = '<!-- env-table: generated from src/config/env-variables.ts by `npm run docs:env` -->';
export const ENV_TABLE_END = '<!-- /env-table -->';

/** The README's table as it stands between the marks, or undefined when the marks are missing. */
export function readmeEnvTable(readme: string): string | undefined {
  const start = readme.indexOf(ENV_TABLE_START);
  const end = readme.indexOf(ENV_TABLE_END);
  if (start < 0 || end < start) return undefined;
  return readme.slice(start + ENV_TABLE_START.length, end).trim();
}

/** Rewrites the table between the marks of the README at `path` from the variable table. */
export function writeReadmeEnvTable(path: string): void {
  const readme = readFileSync(path, 'utf8');
  const start = readme.indexOf(ENV_TABLE_START);
  const end = readme.indexOf(ENV_TABLE_END);
  if (start < 0 || end < start) throw new Error(`${path} has no ${ENV_TABLE_START} ... ${ENV_TABLE_END} section`);
  writeFileSync(path, `${readme.slice(0, start + ENV_TABLE_START.length)}\n${envTableMarkdown()}\n${readme.slice(end)}`);
}

/** The default shown in the README's table. */
function shownDefault(v: EnvVariable): string {
  if (v.shown) return v.shown;
  const d = v.path ? valueAt(DEFAULTS, v.path) : undefined;
  if (d === undefined || (Array.isArray(d) && !d.length)) return '—';
  return `\`${typeof d === 'number' ? d / (v.scale ?? 1) : String(d)}\``;
}

/** The README's configuration table, generated from `ENV_VARIABLES`. */
export function envTableMarkdown(): string {
  const rows = ENV_VARIABLES.map((v) => `| \`${v.name}\` | ${shownDefault(v)} | ${v.description} |`);
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
