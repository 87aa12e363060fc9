import { existsSync } from 'node:fs';
import type { BackupManagerOptions } from '../config/options.js';
import { parseStorageUrl, STORAGE_NAME } from './storage-location.js';

/**
 * Problems of the destinations in the options (`storages`, `storage.defaults`, each target's
 * `storages`), by option path; none = valid. `local` (the storage directory) always exists.
 */
export function storageOptionProblems(o: Pick<BackupManagerOptions, 'storages' | 'storage' | 'targets'>): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  const names = new Set(['local']);
  if (o.storages !== undefined && !Array.isArray(o.storages)) return [{ path: 'storages', message: 'must be an array of { name, url, ... }' }];
  const seen = new Set<string>();
  (o.storages ?? []).forEach((d, i) => {
    const at = `storages[${i}]`;
    if (typeof d?.name !== 'string' || !STORAGE_NAME.test(d.name)) {
      out.push({ path: `${at}.name`, message: `must be 1 to 32 lower-case letters, digits or "_" (got ${JSON.stringify(d?.name)})` });
      return;
    }
    if (seen.has(d.name)) out.push({ path: `${at}.name`, message: `repeats the storage name "${d.name}"` });
    seen.add(d.name);
    names.add(d.name);
    let kind: string | undefined;
    try {
      kind = parseStorageUrl(String(d.url)).kind;
    } catch (err) {
      out.push({ path: `${at}.url`, message: (err as Error).message });
    }
    if (d.secretAccessKey && d.secretAccessKeyFile) out.push({ path: `${at}.secretAccessKeyFile`, message: 'is set together with secretAccessKey; keep one (the file)' });
    if (d.secretAccessKeyFile && !existsSync(d.secretAccessKeyFile)) out.push({ path: `${at}.secretAccessKeyFile`, message: `names a file that does not exist: ${d.secretAccessKeyFile}` });
    const hasSecret = !!(d.secretAccessKey || d.secretAccessKeyFile);
    if (kind === 's3' && !!d.accessKeyId !== hasSecret) {
      out.push({ path: `${at}.${d.accessKeyId ? 'secretAccessKeyFile' : 'accessKeyId'}`, message: 'is needed too: give both the access key id and the secret, or neither (the AWS SDK default chain)' });
    }
    if (kind === 'local' && (d.accessKeyId || hasSecret)) out.push({ path: `${at}.accessKeyId`, message: 'applies to s3:// destinations only' });
  });
  const known = () => [...names].join(', ');
  const defaults = o.storage?.defaults;
  if (defaults !== undefined) {
    if (!Array.isArray(defaults)) out.push({ path: 'storage.defaults', message: 'must be an array of storage names' });
    else for (const n of defaults) if (!names.has(n)) out.push({ path: 'storage.defaults', message: `names the unknown storage ${JSON.stringify(n)} (configured: ${known()})` });
  }
  (o.targets ?? []).forEach((t, i) => {
    if (t.storages === undefined) return;
    if (!Array.isArray(t.storages)) out.push({ path: `targets[${i}].storages`, message: 'must be an array of storage names' });
    else for (const n of t.storages) if (!names.has(n)) out.push({ path: `targets[${i}].storages`, message: `names the unknown storage ${JSON.stringify(n)} (configured: ${known()})` });
  });
  return out;
}
