import type { INestApplicationContext } from '@nestjs/common';
import { BackupRecord, BackupStatus, GOOD_BACKUP_STATUSES } from '../../backup/entities/backup-record.entity.js';
import { BackupsService } from '../../backup/backups.service.js';
import { lackingCopies, statusLine } from '../../backup/copy-health.js';
import type { BackupCopy } from '../../backup/entities/backup-copy.entity.js';
import { EnginesService } from '../../engines/engines.service.js';
import { TargetsService } from '../../targets/targets.service.js';
import { formatBytes } from '../progress.js';

/** Statuses a backup does not leave. */
export const FINAL_BACKUP_STATUSES = [...GOOD_BACKUP_STATUSES, BackupStatus.Failed, BackupStatus.Cancelled, BackupStatus.Corrupted];

/** The copies of a backup in its destinations (empty for a backup made before destinations). */
export async function copiesOf(ctx: INestApplicationContext, id: string): Promise<BackupCopy[]> {
  return (await ctx.get(BackupsService, { strict: false }).copiesOf([id])).get(id) ?? [];
}

/** The record as `--json` prints it: with its destinations, and whether it is degraded (as the API says). */
export function backupJson(r: BackupRecord, copies: BackupCopy[]): BackupRecord & { destinations: BackupCopy[]; degraded: boolean; failedDestinations: string[] } {
  const failedDestinations = lackingCopies(r, copies).map((c) => c.storage);
  return { ...r, destinations: copies, degraded: failedDestinations.length > 0, failedDestinations };
}

/** One line of `backup list`; a degraded backup names the destinations that lack its copy. */
export function listLine(r: ReturnType<typeof backupJson>): string {
  const line = `${r.id}  ${r.status.padEnd(9)}  ${r.target.padEnd(12)}  ${r.type.padEnd(7)}  ${(r.sizeBytes != null ? formatBytes(Number(r.sizeBytes)) : '-').padStart(9)}  ${new Date(r.createdAt).toISOString()}`;
  return r.degraded ? `${line}  DEGRADED: no good copy in ${r.failedDestinations.join(', ')}` : line;
}

/** The human lines for one backup; a degraded one says which copies it lacks, beside its status. */
export function describeBackup(r: BackupRecord, copies: BackupCopy[]): string {
  const size = r.sizeBytes != null ? formatBytes(Number(r.sizeBytes)) : '-';
  const lines = [`${r.id}  ${statusLine(r, copies)}  target=${r.target}  type=${r.type}  size=${size}${r.durationMs != null ? `  ${(Number(r.durationMs) / 1000).toFixed(1)} s` : ''}`];
  if (r.fileKey) lines.push(`  file: ${r.fileKey}`);
  if (r.checksum) lines.push(`  sha256: ${r.checksum}`);
  for (const c of copies) lines.push(`  ${c.storage}: ${c.state}${c.errorMessage ? ` (${c.errorMessage})` : ''}`);
  if (lackingCopies(r, copies).length) lines.push('  degraded: it restores from its other copies; a re-copy job repairs the rest');
  if (r.errorMessage) lines.push(`  error: ${r.errorMessage}`);
  return lines.join('\n');
}

/** Database size as the ETA's estimate; undefined when the target cannot be asked. */
export async function estimateSize(ctx: INestApplicationContext, targetName: string): Promise<number | undefined> {
  try {
    const target = await ctx.get(TargetsService, { strict: false }).resolve(targetName);
    return (await ctx.get(EnginesService, { strict: false }).for(target.engine).stats(target)).sizeBytes || undefined;
  } catch {
    return undefined;
  }
}
