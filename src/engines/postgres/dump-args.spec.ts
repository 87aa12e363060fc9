import { describe, expect, it } from '@jest/globals';
import { EngineError } from '../../common/errors.js';
import { pgDumpArgs } from './postgres.engine.js';

describe('the pg_dump arguments', () => {
  const full = { scope: 'full' as const, includeSchema: true, includeData: true, format: 'custom' as const };

  it('carries no connection detail or password: those go through the environment', () => {
    const args = pgDumpArgs(full, 30_000);
    expect(args).toEqual(['--no-password', '--lock-wait-timeout=30000', '--format=custom', '--compress=0']);
    expect(args.join(' ')).not.toMatch(/--host|--username|--dbname|password=/);
  });

  it('switches schema or data off, and shares the exported snapshot', () => {
    expect(pgDumpArgs({ ...full, format: 'plain', includeSchema: false }, 1)).toEqual(['--no-password', '--lock-wait-timeout=1', '--format=plain', '--data-only']);
    expect(pgDumpArgs({ ...full, includeData: false, snapshot: '00000003-0000001B-1' }, 1)).toEqual(expect.arrayContaining(['--schema-only', '--snapshot=00000003-0000001B-1']));
    expect(() => pgDumpArgs({ ...full, snapshot: "x'; --" }, 1)).toThrow(EngineError);
  });

  it('names each table of a selective dump by an exact pattern, and fails on a pattern that matches nothing', () => {
    const args = pgDumpArgs({ ...full, scope: 'selective', tables: ['orders', 'Sales.Items*'] }, 1, [
      { schema: 'public', table: 'orders' },
      { schema: 'Sales', table: 'Items*' },
    ]);
    // Quoted, a pattern's wildcards are literal: each matches the one table it names.
    expect(args.slice(args.indexOf('--strict-names'))).toEqual(['--strict-names', '--table="public"."orders"', '--table="Sales"."Items*"']);
  });
});
