import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog } from '../src/catalog/catalog.js';
import { loadConfig } from '../src/config/env.js';
import { createMyDatabase, dropMyDatabase, MY, myIdent, myQuery } from './support/mysql.js';

/**
 * CATALOG_PASSWORD_FILE: the catalog's password as a file (a container secret), with a URL that
 * holds none. MariaDB checks passwords here (the local PostgreSQL trusts every local user).
 */
describe('the catalog password from a file', () => {
  const tag = randomBytes(3).toString('hex');
  const user = `bmt_cat_${tag}`;
  const password = `c:at #${tag} pw `; // a trailing space is part of it; the final newline is not
  let db: string;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    db = await createMyDatabase('catpw');
    for (const host of ['127.0.0.1', 'localhost']) {
      await myQuery(undefined, `CREATE USER '${user}'@'${host}' IDENTIFIED BY ?`, [password]);
      await myQuery(undefined, `GRANT ALL ON ${myIdent(db)}.* TO '${user}'@'${host}'`);
    }
    dir = mkdtempSync(join(tmpdir(), 'bm-catpw-'));
    file = join(dir, 'catalog_password');
    writeFileSync(file, `${password}\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await dropMyDatabase(db);
    for (const host of ['127.0.0.1', 'localhost']) await myQuery(undefined, `DROP USER IF EXISTS '${user}'@'${host}'`);
  });

  const env = (extra: Record<string, string>) => ({
    DATA_DIR: dir,
    JWT_SECRET: randomBytes(24).toString('hex'),
    CATALOG_URL: `mysql://${user}@${MY.host}:${MY.port}/${db}`,
    ...extra,
  });

  it('connects and migrates with the password from the file, and is refused without it', async () => {
    const ds = await openCatalog(loadConfig(env({ CATALOG_PASSWORD_FILE: file })).options.catalog);
    try {
      const tables = await ds.query(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?`, [db]);
      expect(tables.map((t: { name: string }) => t.name)).toContain('bm_backup_records');
    } finally {
      await ds.destroy();
    }
    await expect(openCatalog(loadConfig(env({})).options.catalog)).rejects.toThrow(/Access denied/);
  });

  it('names an unreadable file, or a password given twice, at start-up', () => {
    expect(() => loadConfig(env({ CATALOG_PASSWORD_FILE: join(dir, 'missing') }))).toThrow(`CATALOG_PASSWORD_FILE could not be read: ${join(dir, 'missing')}`);
    expect(() => loadConfig(env({ CATALOG_PASSWORD_FILE: file, CATALOG_URL: `mysql://${user}:inline@${MY.host}/${db}` }))).toThrow(
      'CATALOG_URL holds a password and CATALOG_PASSWORD_FILE is set: keep only one (the file)',
    );
  });
});
