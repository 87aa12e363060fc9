import type { INestApplicationContext } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import { Between, type Repository } from 'typeorm';
import { BackupRecord } from '../backup/entities/backup-record.entity.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { CliError, Exit, usageError } from './exit.js';

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SHORTEST = 4;

const asUuid = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;

/** Checks that `given` can be a backup id or the start of one. @throws a usage error (64). */
export function checkBackupIdArg(given: string): void {
  const hex = given.replace(/-/g, '');
  if (FULL_ID.test(given)) return;
  if (!/^[0-9a-f]+$/i.test(hex) || hex.length < SHORTEST || hex.length > 32) {
    throw usageError(`"${given}" is not a backup id: give the id, or at least its first ${SHORTEST} characters, as \`backup list\` prints it`);
  }
}

/**
 * The backup id `given` names: a full id as it is, or the start of one (such as the 8 characters
 * of a progress line) when exactly one backup's id starts with it, deleted ones included.
 * @throws a usage error (64) for something that is no id or matches several; refused (65) when none does.
 */
export async function resolveBackupId(ctx: INestApplicationContext, given: string): Promise<string> {
  checkBackupIdArg(given);
  if (FULL_ID.test(given)) return given.toLowerCase();
  const hex = given.replace(/-/g, '').toLowerCase();
  // Ids are lower-case UUIDs, so a prefix is a range (works for a uuid column and for text).
  const records = ctx.get<Repository<BackupRecord>>(getRepositoryToken(BackupRecord, CATALOG_CONNECTION), { strict: false });
  const found = await records.find({
    select: { id: true, target: true, status: true },
    where: { id: Between(asUuid(hex.padEnd(32, '0')), asUuid(hex.padEnd(32, 'f'))) },
    withDeleted: true,
    order: { id: 'ASC' },
    take: 5,
  });
  if (found.length === 1) return found[0].id;
  if (!found.length) throw new CliError(`no backup id starts with ${given}; \`backup list\` shows the ids`, Exit.Refused);
  const some = found.map((r) => `${r.id} (${r.target}, ${r.status})`).join(', ');
  throw usageError(`${given} is ambiguous: it starts ${found.length === 5 ? '5 or more' : found.length} backup ids (${some}); give more characters of the id`);
}
