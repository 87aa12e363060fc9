import type { INestApplicationContext } from '@nestjs/common';
import { BackupRecord, BackupStatus, GOOD_BACKUP_STATUSES } from '../../backup/entities/backup-record.entity.js';
import { EnginesService } from '../../engines/engines.service.js';
import { TargetsService } from '../../targets/targets.service.js';
import { formatBytes } from '../progress.js';

/** Statuses a backup does not leave. */
export const FINAL_BACKUP_STATUSES = [...GOOD_BACKUP_STATUSES, BackupStatus.Failed, BackupStatus.Cancelled, BackupStatus.Corrupted];

/** The human lines for one backup. */
export function describeBackup(r: BackupRecord): string {
  const size = r.sizeBytes != null ? formatBytes(Number(r.sizeBytes)) : '-';
  const lines = [`${r.id}  ${r.status}  target=${r.target}  type=${r.type}  size=${size}${r.durationMs != null ? `  ${(Number(r.durationMs) / 1000).toFixed(1)} s` : ''}`];
  if (r.fileKey) lines.push(`  file: ${r.fileKey}`);
  if (r.checksum) lines.push(`  sha256: ${r.checksum}`);
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
