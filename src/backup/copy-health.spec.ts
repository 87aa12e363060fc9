import { describe, expect, it } from '@jest/globals';
import { backupJson, describeBackup, listLine } from '../cli/commands/backup-output.js';
import { lackingCopies, statusLine } from './copy-health.js';
import { toBackupResponse } from './dto/backup-response.dto.js';
import { CopyState, type BackupCopy } from './entities/backup-copy.entity.js';
import type { BackupRecord } from './entities/backup-record.entity.js';

const record = (status: string) =>
  ({ id: '3f2a9c1b-0000-4000-8000-000000000001', status, target: 'app', type: 'manual', sizeBytes: 2048, durationMs: 1500, fileKey: 'app/x.dump.zst', checksum: 'ab', errorMessage: null, createdAt: new Date('2026-12-01T08:00:00Z'), metadata: null }) as unknown as BackupRecord;
const copy = (storage: string, state: CopyState, errorMessage: string | null = null) => ({ storage, state, errorMessage, fileKey: 'app/x.dump.zst' }) as BackupCopy;

describe('a degraded backup reads as degraded wherever its status shows', () => {
  const copies = [copy('local', CopyState.Verified), copy('offsite', CopyState.Failed, 'storage "offsite" refused the credentials')];

  it('a usable backup lacking a copy is degraded; one holding every copy, or not usable, is not', () => {
    expect(lackingCopies(record('COMPLETED'), copies)).toEqual([{ storage: 'offsite', state: 'FAILED' }]);
    expect(lackingCopies(record('VERIFIED'), [copy('local', CopyState.Missing), copy('offsite', CopyState.Stored)])).toEqual([{ storage: 'local', state: 'MISSING' }]);
    expect(lackingCopies(record('COMPLETED'), [copy('local', CopyState.Stored), copy('offsite', CopyState.Unverified)])).toEqual([]);
    expect(lackingCopies(record('FAILED'), copies)).toEqual([]);
    expect(lackingCopies(record('COMPLETED'), [])).toEqual([]);
  });

  it('the API, the CLI line, list and details all say it beside the status', () => {
    expect(statusLine(record('COMPLETED'), copies)).toBe('COMPLETED, degraded (offsite FAILED)');
    expect(toBackupResponse(record('COMPLETED'), { copies })).toMatchObject({ status: 'COMPLETED', degraded: true, failedDestinations: ['offsite'] });
    expect(toBackupResponse(record('COMPLETED'), { copies: [copies[0]] })).toMatchObject({ degraded: false, failedDestinations: [] });
    expect(listLine(backupJson(record('COMPLETED'), copies))).toMatch(/^3f2a9c1b\S+ {2}COMPLETED .* DEGRADED: no good copy in offsite$/);
    expect(listLine(backupJson(record('COMPLETED'), [copies[0]]))).not.toMatch(/DEGRADED/);
    const details = describeBackup(record('VERIFIED'), copies);
    expect(details).toMatch(/^3f2a9c1b\S+ {2}VERIFIED, degraded \(offsite FAILED\) {2}target=app/);
    expect(details).toMatch(/offsite: FAILED \(storage "offsite" refused the credentials\)/);
  });
});
