import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { DumpTransactionFilter } from './psql-commit-gate.js';

/** Runs `text` through the filter cut into chunks of `size` bytes. */
async function filter(text: string, size = 7): Promise<string> {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  const out: Buffer[] = [];
  for await (const c of Readable.from(chunks).pipe(new DumpTransactionFilter())) out.push(c as Buffer);
  return Buffer.concat(out).toString();
}

const LO_SECTION = `--
-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -
--

BEGIN;

SELECT pg_catalog.lo_open('16385', 131072);
SELECT pg_catalog.lowrite(0, '\\x68656c6c6f');
SELECT pg_catalog.lo_close(0);

COMMIT;

--
-- PostgreSQL database dump complete
--
`;

describe('DumpTransactionFilter', () => {
  it.each([1, 7, 64, 1 << 16])('drops only the BEGIN/COMMIT around pg_dump large objects (chunks of %i bytes)', async (size) => {
    const out = await filter(`SET x = 1;\n${LO_SECTION}`, size);
    expect(out).toBe(`SET x = 1;\n${LO_SECTION.replace('BEGIN;\n', '').replace('COMMIT;\n', '')}`);
  });

  it('leaves COPY data, function bodies and other transaction lines alone', async () => {
    const text = [
      'COPY public.t (v) FROM stdin;',
      '-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -',
      'BEGIN;',
      'COMMIT;',
      '\\.',
      'CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN',
      'COMMIT;',
      'END $$;',
      'BEGIN;',
      'COMMIT;',
      '',
    ].join('\n');
    expect(await filter(text)).toBe(text);
  });

  it('fails on anything but large-object calls inside that section, and on a section left open', async () => {
    await expect(filter(LO_SECTION.replace('SELECT pg_catalog.lo_close(0);', 'DROP TABLE t;'))).rejects.toThrow(/unexpected line in the large-object section/);
    await expect(filter(LO_SECTION.slice(0, LO_SECTION.indexOf('COMMIT;')))).rejects.toThrow(/ends inside its large-object section/);
  });

  it('passes long lines through in pieces without holding them', async () => {
    const long = 'x'.repeat(3 << 20);
    const text = `COPY public.t (v) FROM stdin;\n${long}\n\\.\nSELECT '${long}';\n${LO_SECTION}`;
    const out = await filter(text, 1 << 16);
    expect(out).toBe(text.replace('BEGIN;\n', '').replace('COMMIT;\n', ''));
  });
});
