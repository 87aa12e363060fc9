import { describe, expect, it } from '@jest/globals';
import type { BackupManagerOptions, TargetOptions } from '../config/options.js';
import type { TableInfo } from '../engines/engine.interface.js';
import { BackupsService, type BackupRequest } from './backups.service.js';

/** A BackupsService whose only collaborator in use is the target's table list (in memory). */
function service(tables: string[]) {
  const list: TableInfo[] = tables.map((name) => ({ name, rowEstimate: 0, sizeBytes: 0 }));
  const targets = { resolve: async (name: string) => ({ name }), secretsOf: () => [] };
  const engines = { for: () => ({ listTables: async () => list }) };
  const options = { dump: { pgFormat: 'custom' } } as unknown as BackupManagerOptions;
  const none = undefined as never;
  return new BackupsService(none, none, none, options, targets as never, {} as never, none, engines as never, none, none, none);
}

const pg: TargetOptions = { name: 'app', engine: 'postgres', host: 'h', port: 5432, user: 'u', database: 'app', coreTables: ['orders'] };
const my: TargetOptions = { ...pg, engine: 'mysql', port: 3306, coreTables: undefined };

async function refusal(s: BackupsService, t: TargetOptions, req: Partial<BackupRequest>): Promise<string> {
  const err = await s.resolveScope(t, { target: t.name, ...req } as BackupRequest).then(
    () => undefined,
    (e: Error) => e,
  );
  if (!err) throw new Error('expected a refusal');
  return err.message;
}

describe('resolveScope', () => {
  const s = service(['orders', 'sales.items', '"Mixed Case"']);

  it('defaults to a full backup of schema and data in the target engine\'s format', async () => {
    expect(await s.resolveScope(pg, { target: 'app' } as BackupRequest)).toEqual({ scope: 'full', tables: null, includeSchema: true, includeData: true, format: 'custom' });
    expect((await s.resolveScope(my, { target: 'app' } as BackupRequest)).format).toBe('plain');
  });

  it('records selected tables in their canonical spelling, once each', async () => {
    const r = await s.resolveScope(pg, { target: 'app', scope: 'selective', tables: ['public.orders', '"orders"', 'orders', 'sales.items', '"Mixed Case"'] } as BackupRequest);
    expect(r.tables).toEqual(['orders', 'sales.items', '"Mixed Case"']);
    expect((await s.resolveScope(pg, { target: 'app', scope: 'partial' } as BackupRequest)).tables).toEqual(['orders']);
  });

  it('refuses what cannot be dumped, saying how to fix it', async () => {
    expect(await refusal(s, pg, { includeSchema: false, includeData: false })).toContain('includeSchema and includeData cannot both be false');
    expect(await refusal(s, my, { format: 'custom' })).toContain('format "custom" is for PostgreSQL targets');
    expect(await refusal(s, pg, { tables: ['orders'] })).toContain('set scope to "selective"');
    expect(await refusal(s, my, { scope: 'partial' })).toContain('set BACKUP_TARGET_APP_CORE_TABLES');
    expect(await refusal(s, pg, { scope: 'selective', tables: [] })).toContain('non-empty tables list');
    expect(await refusal(s, pg, { scope: 'everything' as never })).toContain('scope must be one of: full, partial, selective');
    expect(await refusal(s, pg, { scope: 'selective', tables: ['orders', 'nope', 'x.y'] })).toMatch(/Unknown tables in target "app": "nope", "x\.y" \(a dot separates schema and table/);
  });
});
