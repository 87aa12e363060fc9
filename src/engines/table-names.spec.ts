import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PgCopyRowCounter } from './postgres/pg-copy-rows.js';
import { canonicalTableKey, canonicalTableName, formatPgTable, parsePgTable, pgDumpTablePattern, splitTableList, TableNameError } from './table-names.js';

/** [schema, table, canonical text] */
const PG_NAMES: Array<[string, string, string]> = [
  ['public', 'orders', 'orders'],
  ['public', 'user', 'user'],
  ['public', '_t1', '_t1'],
  ['public', '1abc', '"1abc"'],
  ['public', 'fake', 'fake'],
  ['public', 'public.fake', '"public.fake"'],
  ['public', 'Mixed Case', '"Mixed Case"'],
  ['public', 'quo"te', '"quo""te"'],
  ['public', '""', '""""""'],
  ['public', 'with space', '"with space"'],
  ['public', 'naïve', '"naïve"'],
  ['public', 'ünïcödé.tâble', '"ünïcödé.tâble"'],
  ['public', 'a$b', '"a$b"'],
  ['public', 'new\nline', '"new\nline"'],
  ['sales', 'items', 'sales.items'],
  ['we.ird', 'fake', '"we.ird".fake'],
  ['we', 'ird.fake', 'we."ird.fake"'],
  ['Sales', 'Items', '"Sales"."Items"'],
  ['we.ird', 'ünïcödé.tâble', '"we.ird"."ünïcödé.tâble"'],
];

describe('PostgreSQL table names', () => {
  it.each(PG_NAMES)('%s . %s is written %s and read back exactly', (schema, table, text) => {
    expect(formatPgTable({ schema, table })).toBe(text);
    expect(parsePgTable(text)).toEqual({ schema, table });
    expect(canonicalTableName('postgres', text)).toBe(text);
  });

  it('gives distinct tables distinct texts (no two look-alikes share a name)', () => {
    const texts = PG_NAMES.map(([schema, table]) => formatPgTable({ schema, table }));
    expect(new Set(texts).size).toBe(texts.length);
  });

  it('reads the qualified and the plain spellings and writes them canonically', () => {
    expect(canonicalTableName('postgres', 'public."public.fake"')).toBe('"public.fake"');
    expect(canonicalTableName('postgres', '"public"."fake"')).toBe('fake');
    expect(canonicalTableName('postgres', 'public.fake')).toBe('fake');
    expect(canonicalTableName('postgres', '"user"')).toBe('user');
    expect(canonicalTableName('postgres', 'sales.items')).toBe('sales.items');
    // A bare part is taken as written: no case folding, spaces kept.
    expect(parsePgTable('Mixed Case')).toEqual({ schema: 'public', table: 'Mixed Case' });
    expect(parsePgTable('Sales.Items')).toEqual({ schema: 'Sales', table: 'Items' });
    expect(parsePgTable('naïve')).toEqual({ schema: 'public', table: 'naïve' });
  });

  it.each([
    ['', 'is empty'],
    ['a.b.c', 'more than two dot-separated parts'],
    ['"we.ird".a.b', 'more than two dot-separated parts'],
    ['"open', 'opening double quote without its closing one'],
    ['quo"te', 'double quote inside an unquoted part'],
    ['"a"b', 'characters after a closing double quote'],
    ['"a" .b', 'characters after a closing double quote'],
    ['.t', 'empty part'],
    ['s.', 'empty part after its last dot'],
    ['a..b', 'empty part'],
    ['""', 'empty quoted part'],
    ['s.""', 'empty quoted part'],
  ])('refuses %j: %s', (text, why) => {
    expect(() => parsePgTable(text)).toThrow(TableNameError);
    expect(() => parsePgTable(text)).toThrow(`table name ${JSON.stringify(text)} `);
    expect(() => parsePgTable(text)).toThrow(why);
  });

  it('keeps a recorded key it cannot read as it is', () => {
    expect(canonicalTableKey('postgres', 'Odd Table')).toBe('"Odd Table"');
    expect(canonicalTableKey('postgres', 'a.b.c')).toBe('a.b.c');
  });
});

describe('pg_dump --table patterns', () => {
  it.each(PG_NAMES)('%s . %s: both parts quoted, inner quotes doubled', (schema, table) => {
    expect(pgDumpTablePattern({ schema, table })).toBe(`"${schema.replace(/"/g, '""')}"."${table.replace(/"/g, '""')}"`);
  });

  it('leaves no pattern character outside quotes', () => {
    for (const table of ['a*b', 'a?b', 'A.B', 'x"y', '(a|b)', '[ab]', 'a$', '^a']) {
      const p = pgDumpTablePattern({ schema: 'public', table });
      // Strip the two quoted parts; nothing but the separating dot may remain.
      expect(p.replace(/"(?:[^"]|"")*"/g, '')).toBe('.');
    }
  });
});

describe('MySQL table names', () => {
  it('are the exact name, dots, backticks, quotes, spaces and capitals included', () => {
    for (const n of ['fake', 'public.fake', 'back`tick', 'with space', 'Mixed Case', 'ünïcödé.tâble', `it's "q"`, 'a_b']) {
      expect(canonicalTableName('mysql', n)).toBe(n);
    }
    expect(() => canonicalTableName('mysql', '')).toThrow(TableNameError);
  });
});

describe('splitTableList', () => {
  it('splits on commas outside double quotes and trims', () => {
    expect(splitTableList('customers, orders ,sales.items')).toEqual(['customers', 'orders', 'sales.items']);
    expect(splitTableList('"a,b",c, "x"".y", we."ird,fake"')).toEqual(['"a,b"', 'c', '"x"".y"', 'we."ird,fake"']);
    expect(splitTableList(' , a,,')).toEqual(['a']);
    expect(splitTableList(`it's "q",b`)).toEqual([`it's "q"`, 'b']);
  });
});

describe('PgCopyRowCounter', () => {
  async function count(dump: string, chunk = 7): Promise<Record<string, number>> {
    const counter = new PgCopyRowCounter();
    const bytes = Buffer.from(dump);
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
    await pipeline(Readable.from(parts), counter, async (src: AsyncIterable<Buffer>) => {
      for await (const _ of src);
    });
    return counter.rows;
  }

  const block = (header: string, copy: string, rows: string[]) => `--\n-- Data for Name: ${header}; Type: TABLE DATA; Schema: x; Owner: postgres\n--\n\n${copy}\n${rows.map((r) => `${r}\n`).join('')}\\.\n\n`;

  it('keys the rows by canonical names, quoted identifiers and newlines in names included', async () => {
    const dump = [
      block('fake', 'COPY public.fake (v) FROM stdin;', ['1', '2', '3']),
      block('public.fake', 'COPY public."public.fake" (v) FROM stdin;', ['10']),
      block('quo"te', 'COPY public."quo""te" ("a "" b", c) FROM stdin;', ['1\t2', '\\N\t3']),
      block('fake', 'COPY "we.ird".fake (v) FROM stdin;', []),
      block('ird.fake', 'COPY we."ird.fake" (v) FROM stdin;', ['7', '8']),
      block('new line', 'COPY public."new\nline" ("x\ny") FROM stdin;', ['1']),
      block('Mixed Case', 'COPY "Sales"."Mixed Case" (v) FROM stdin;', ['1']),
    ].join('');
    const expected = { fake: 3, '"public.fake"': 1, '"quo""te"': 2, '"we.ird".fake': 0, 'we."ird.fake"': 2, '"new\nline"': 1, '"Sales"."Mixed Case"': 1 };
    expect(await count(dump)).toEqual(expected);
    expect(await count(dump, 1 << 20)).toEqual(expected);
  });
});
