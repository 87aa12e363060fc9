import { describe, expect, it } from '@jest/globals';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DumpTableScanner } from './mysql/mysql.restorer.js';
import { PgCopyRowCounter } from './postgres/pg-copy-rows.js';
import { PsqlRestrictGuard } from './postgres/postgres.restorer.js';

/** Feeds `text` through `t` cut into pieces of `size` bytes (so every boundary case occurs); returns what came out. */
async function through(t: Transform, text: string, size: number): Promise<string> {
  const bytes = Buffer.from(text);
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
  const out: Buffer[] = [];
  t.on('data', (c: Buffer) => out.push(c));
  await pipeline(Readable.from(pieces), t);
  return Buffer.concat(out).toString('utf8');
}

const SIZES = [1, 2, 3, 7, 64, 1 << 16];

describe('the COPY row counter (plain pg_dump)', () => {
  const dump = [
    '--',
    '-- Data for Name: orders; Type: TABLE DATA; Schema: public; Owner: app',
    '--',
    '',
    'COPY public.orders (id, ref) FROM stdin;',
    '1\ta',
    '2\t\\\\.',
    '3\tc',
    '\\.',
    '',
    '-- Data for Name: Mixed Case; Type: TABLE DATA; Schema: sales; Owner: app',
    'COPY sales."Mixed Case" (id) FROM stdin;',
    '\\.',
    '',
    '-- a COPY outside a data section is SQL text, not a table',
    "SELECT 'COPY public.fake (x) FROM stdin;';",
    '',
  ].join('\n');

  it.each(SIZES)('counts rows per table, whatever the chunk size (%i bytes), and passes the bytes through unchanged', async (size) => {
    const counter = new PgCopyRowCounter();
    expect(await through(counter, dump, size)).toBe(dump);
    expect(counter.rows).toEqual({ orders: 3, 'sales."Mixed Case"': 0 });
  });
});

describe('the MySQL dump table scanner', () => {
  const dump = [
    '-- MariaDB dump',
    'LOCK TABLES `empty` WRITE;',
    'UNLOCK TABLES;',
    'INSERT INTO `orders` VALUES (1,\'LOCK TABLES `nope` WRITE\');',
    'INSERT IGNORE INTO `we``ird` VALUES (2);',
    'REPLACE INTO `items` VALUES (3);',
    "  INSERT INTO `indented` VALUES (4);",
    'SELECT 1;',
  ].join('\n');

  it.each(SIZES)('notes the tables a dump holds data for (%i-byte chunks), and passes the bytes through', async (size) => {
    const scanner = new DumpTableScanner();
    expect(await through(scanner, dump, size)).toBe(dump);
    expect([...scanner.tables].sort()).toEqual(['empty', 'items', 'orders', 'we`ird']);
  });
});

describe('the psql restrict guard', () => {
  const prelude = 'SET lock_timeout = 0;';

  it.each(SIZES)('puts psql in restricted mode first and drops only the dump\'s own restrict pair (%i-byte chunks)', async (size) => {
    const dump = ['--', '-- PostgreSQL database dump', '--', '', '\\restrict Abc123', '', 'CREATE TABLE t (x int);', '', '\\unrestrict Abc123', ''].join('\n');
    const out = await through(new PsqlRestrictGuard(prelude), dump, size);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^\\restrict [0-9a-f]{48}$/);
    expect(out).toContain(prelude);
    expect(out).toContain('CREATE TABLE t (x int);');
    expect(out).not.toContain('Abc123');
    // One restrict line, the guard's own: a second one would itself be refused in restricted mode.
    expect(out.match(/\\(un)?restrict/g)).toEqual(['\\restrict']);
  });

  it.each(SIZES)('keeps a meta-command inside the dump, where restricted psql refuses it (%i-byte chunks)', async (size) => {
    const dump = 'CREATE TABLE t (x int);\n\\! touch /tmp/pwned\n';
    const out = await through(new PsqlRestrictGuard(prelude), dump, size);
    expect(out.split('\n')[0]).toMatch(/^\\restrict [0-9a-f]{48}$/);
    expect(out).toContain('\\! touch /tmp/pwned');
  });
});
