import type { ArtifactStorage } from '../storage/storage.interface.js';
import { manifestKey } from './artifact-name.js';
import type { BackupRecord } from './entities/backup-record.entity.js';

/**
 * Removes every file of a record that ends without a usable artifact (FAILED or CANCELLED): the
 * artifacts (and manifests) its attempts renamed into place without committing the record
 * (`metadata.pendingFileKeys`), a `fileKey` if one was left, and the attempts' partial files (a new
 * writer of the record's group removes the group's partials; its own empty partial goes with
 * `abort`). NOTE: only for a record no attempt is writing any more: a live attempt's partial
 * would go too.
 */
export async function discardLeftovers(storage: ArtifactStorage, r: Pick<BackupRecord, 'id' | 'target' | 'metadata' | 'fileKey'>): Promise<void> {
  const keys = new Set([...((r.metadata?.pendingFileKeys as string[] | undefined) ?? []), ...(r.fileKey ? [r.fileKey] : [])]);
  for (const k of keys) {
    await storage.delete(k);
    await storage.delete(manifestKey(k));
  }
  const sweep = await storage.createWriter(`${r.target}/${r.id}.sweep`, r.id);
  await sweep.abort();
}
