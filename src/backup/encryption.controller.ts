import { Controller, Get, Injectable } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Not, type Repository } from 'typeorm';
import { MinRole, Role } from '../auth/roles.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { EncryptionKeys } from '../codecs/encryption-keys.js';
import { LibraryController } from '../common/library-controller.decorator.js';
import { BackupRecord } from './entities/backup-record.entity.js';

/** Most backup ids listed per recipient (newest first); `backupCount` counts them all. */
const MAX_IDS = 1000;
const EXAMPLE = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';

@ApiSchema({ name: 'BmEncryptsTo' })
export class EncryptsTo {
  @ApiProperty({ enum: ['x25519', 'scrypt'] }) mode!: 'x25519' | 'scrypt';
  @ApiProperty({ type: [String], example: [EXAMPLE], description: 'Public keys new backups are encrypted to (empty for a passphrase)' }) recipients!: string[];
}

@ApiSchema({ name: 'BmRecipientUse' })
export class RecipientUse {
  @ApiProperty({ example: EXAMPLE, description: "A recipient's public key, or `passphrase` for backups made with the passphrase" }) recipient!: string;
  @ApiProperty({ description: 'Backups (not deleted) whose artifact this recipient opens' }) backupCount!: number;
  @ApiProperty({ type: [String], description: `Their ids, newest first (at most ${MAX_IDS})` }) backupIds!: string[];
  @ApiProperty({ description: 'Whether this process holds its identity (or the passphrase), so it can restore them' }) identityHere!: boolean;
}

@ApiSchema({ name: 'BmEncryptionOverview' })
export class EncryptionOverview {
  @ApiProperty({ description: 'Whether backups are encrypted when request, schedule and target say nothing' }) encryptByDefault!: boolean;
  @ApiPropertyOptional({ type: () => EncryptsTo, nullable: true, description: 'What this process encrypts new backups to; null when it has no recipients or passphrase' }) encryptsTo!: EncryptsTo | null;
  @ApiProperty({ type: [String], example: [EXAMPLE], description: 'Public keys of the identities this process holds (BACKUP_ENCRYPTION_IDENTITY_FILE)' }) identities!: string[];
  @ApiProperty({ description: 'Whether this process holds a passphrase (BACKUP_ENCRYPTION_PASSPHRASE_FILE)' }) passphrase!: boolean;
  @ApiProperty({ type: [RecipientUse], description: 'Every recipient encrypted backups in the catalog were made for' }) recipients!: RecipientUse[];
}

/** What the catalog's encrypted backups were encrypted to, and what this process holds: public facts only. */
@Injectable()
export class EncryptionOverviewService {
  constructor(
    @InjectRepository(BackupRecord, CATALOG_CONNECTION) private readonly records: Repository<BackupRecord>,
    private readonly keys: EncryptionKeys,
  ) {}

  async overview(): Promise<EncryptionOverview> {
    const rows = await this.records.find({
      select: { id: true, encryption: true, createdAt: true },
      where: { encrypted: true, encryption: Not(IsNull()), deletedAt: IsNull() },
      order: { createdAt: 'DESC', id: 'DESC' },
    });
    const identities: string[] = safe(() => this.keys.identityRecipients(), [] as string[]);
    const passphrase = this.keys.hasPassphrase();
    const byRecipient = new Map<string, string[]>();
    for (const r of rows) {
      const names = r.encryption!.mode === 'scrypt' ? ['passphrase'] : r.encryption!.recipients;
      for (const n of names) byRecipient.set(n, [...(byRecipient.get(n) ?? []), r.id]);
    }
    const enc = safe(() => this.keys.forNewBackup(), undefined);
    return {
      encryptByDefault: this.keys.encryptByDefault(),
      encryptsTo: enc ? { mode: enc.mode, recipients: enc.mode === 'x25519' ? enc.recipients.map((r) => r.text) : [] } : null,
      identities,
      passphrase,
      recipients: [...byRecipient].map(([recipient, ids]) => ({
        recipient,
        backupCount: ids.length,
        backupIds: ids.slice(0, MAX_IDS),
        identityHere: recipient === 'passphrase' ? passphrase : identities.includes(recipient),
      })),
    };
  }
}

function safe<T, D>(fn: () => T, fallback: D): T | D {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

@LibraryController('encryption')
@Controller('encryption')
export class EncryptionController {
  constructor(private readonly overview: EncryptionOverviewService) {}

  @Get()
  @MinRole(Role.Viewer)
  @ApiOperation({ summary: 'Recipients in use and which backups each opens; what this process encrypts to and which identities it holds. Public keys only, never a secret' })
  @ApiOkResponse({ type: EncryptionOverview })
  async get(): Promise<EncryptionOverview> {
    return this.overview.overview();
  }
}
