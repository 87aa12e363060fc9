import { describe, expect, it } from '@jest/globals';
import { mysqlDumpArgs } from './mysql.engine.js';

describe('the MySQL dump arguments', () => {
  const full = { scope: 'full' as const, includeSchema: true, includeData: true, format: 'plain' as const };

  it('reads credentials from the option file only, and puts names after "--"', () => {
    const args = mysqlDumpArgs('/tmp/x/my.cnf', '-weird', { ...full, scope: 'selective', tables: ['--all', 'b'] }, 'mysqldump  Ver 10.19 Distrib 10.11.6-MariaDB');
    expect(args[0]).toBe('--defaults-extra-file=/tmp/x/my.cnf');
    expect(args.slice(args.indexOf('--'))).toEqual(['--', '-weird', '--all', 'b']);
    expect(args.join(' ')).not.toMatch(/--password|-p\S/);
  });

  it('carries routines and events only in a full backup, and no schema objects in a data-only one', () => {
    expect(mysqlDumpArgs('f', 'db', full, 'MariaDB')).toEqual(expect.arrayContaining(['--triggers', '--routines', '--events']));
    expect(mysqlDumpArgs('f', 'db', { ...full, scope: 'partial', tables: ['a'] }, 'MariaDB')).toEqual(expect.arrayContaining(['--triggers', '--skip-routines', '--skip-events']));
    expect(mysqlDumpArgs('f', 'db', { ...full, includeSchema: false }, 'MariaDB')).toEqual(expect.arrayContaining(['--no-create-info', '--skip-triggers', '--skip-routines', '--skip-events']));
    expect(mysqlDumpArgs('f', 'db', { ...full, includeData: false }, 'MariaDB')).toContain('--no-data');
  });

  it("turns off GTID_PURGED with Oracle's client only", () => {
    expect(mysqlDumpArgs('f', 'db', full, 'mysqldump  Ver 8.0.36 for Linux')).toContain('--set-gtid-purged=OFF');
    expect(mysqlDumpArgs('f', 'db', full, 'mysqldump from 11.4.2-MariaDB')).not.toContain('--set-gtid-purged=OFF');
  });
});
