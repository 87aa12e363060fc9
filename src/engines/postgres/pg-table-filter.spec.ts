import { describe, expect, it } from '@jest/globals';
import { PgTableFilter } from './pg-table-filter.js';
import { identify } from './pg-dump-sql.js';
import type { PgTableName } from '../table-names.js';

/** A plain script shaped as pg_dump writes it (sections, qualified and quoted names, COPY data). */
const SCRIPT = [
  '--',
  '-- PostgreSQL database dump',
  '--',
  '',
  '\\restrict abc123',
  '',
  'SET client_encoding = \'UTF8\';',
  "SELECT pg_catalog.set_config('search_path', '', false);",
  '',
  '--',
  '-- Name: we.ird; Type: SCHEMA; Schema: -; Owner: postgres',
  '--',
  '',
  'CREATE SCHEMA "we.ird";',
  '',
  'SET default_tablespace = \'\';',
  '',
  '--',
  '-- Name: orders; Type: TABLE; Schema: public; Owner: postgres',
  '--',
  '',
  'CREATE TABLE public.orders (',
  '    id integer NOT NULL,',
  "    note text DEFAULT 'multi",
  '--',
  "-- Name: x; line inside a literal'::text",
  ');',
  '',
  'ALTER TABLE public.orders OWNER TO postgres;',
  '',
  '--',
  '-- Name: orders_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres',
  '--',
  '',
  'CREATE SEQUENCE public.orders_id_seq',
  '    AS integer;',
  '',
  '--',
  '-- Name: orders_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: postgres',
  '--',
  '',
  'ALTER SEQUENCE public.orders_id_seq OWNED BY public.orders.id;',
  '',
  '--',
  '-- Name: other_seq; Type: SEQUENCE; Schema: public; Owner: postgres',
  '--',
  '',
  'CREATE SEQUENCE public.other_seq;',
  '',
  '--',
  '-- Name: Mixed Case; Type: TABLE; Schema: we.ird; Owner: postgres',
  '--',
  '',
  'CREATE TABLE "we.ird"."Mixed Case" (',
  '    id integer NOT NULL,',
  '    ref integer',
  ');',
  '',
  '--',
  '-- Name: Mixed Case_id_seq; Type: SEQUENCE; Schema: we.ird; Owner: postgres',
  '--',
  '',
  'ALTER TABLE "we.ird"."Mixed Case" ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (',
  '    SEQUENCE NAME "we.ird"."Mixed Case_id_seq"',
  ');',
  '',
  '--',
  '-- Name: orders; Type: TABLE; Schema: we; Owner: postgres',
  '--',
  '',
  'CREATE TABLE we."ird.orders" (x int);',
  '',
  '--',
  '-- Name: orders id; Type: DEFAULT; Schema: public; Owner: postgres',
  '--',
  '',
  "ALTER TABLE ONLY public.orders ALTER COLUMN id SET DEFAULT nextval('public.orders_id_seq'::regclass);",
  '',
  '--',
  '-- Data for Name: orders; Type: TABLE DATA; Schema: public; Owner: postgres',
  '--',
  '',
  'COPY public.orders (id, note) FROM stdin;',
  '1\t--',
  '2\t-- Name: fake; Type: TABLE; Schema: public; Owner: x',
  '3\t\\\\.',
  '\\.',
  '',
  '',
  '--',
  '-- Data for Name: Mixed Case; Type: TABLE DATA; Schema: we.ird; Owner: postgres',
  '--',
  '',
  'COPY "we.ird"."Mixed Case" (id, ref) FROM stdin;',
  '7\t1',
  '\\.',
  '',
  '',
  '--',
  '-- Data for Name: ird.orders; Type: TABLE DATA; Schema: we; Owner: postgres',
  '--',
  '',
  'COPY we."ird.orders" (x) FROM stdin;',
  '99',
  '\\.',
  '',
  '',
  '--',
  '-- Name: orders_id_seq; Type: SEQUENCE SET; Schema: public; Owner: postgres',
  '--',
  '',
  "SELECT pg_catalog.setval('public.orders_id_seq', 3, true);",
  '',
  '--',
  '-- Name: other_seq; Type: SEQUENCE SET; Schema: public; Owner: postgres',
  '--',
  '',
  "SELECT pg_catalog.setval('public.other_seq', 9, true);",
  '',
  '--',
  '-- Name: Mixed Case_id_seq; Type: SEQUENCE SET; Schema: we.ird; Owner: postgres',
  '--',
  '',
  'SELECT pg_catalog.setval(\'"we.ird"."Mixed Case_id_seq"\', 7, true);',
  '',
  '--',
  '-- Name: orders orders_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres',
  '--',
  '',
  'ALTER TABLE ONLY public.orders',
  '    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);',
  '',
  '--',
  '-- Name: orders_note_idx; Type: INDEX; Schema: public; Owner: postgres',
  '--',
  '',
  'CREATE INDEX orders_note_idx ON public.orders USING btree (note);',
  '',
  '--',
  '-- Name: INDEX orders_note_idx; Type: COMMENT; Schema: public; Owner: postgres',
  '--',
  '',
  "COMMENT ON INDEX public.orders_note_idx IS 'by note';",
  '',
  '--',
  '-- Name: orders trg; Type: TRIGGER; Schema: public; Owner: postgres',
  '--',
  '',
  'CREATE TRIGGER trg BEFORE UPDATE OF "x ON y", note ON public.orders FOR EACH ROW EXECUTE FUNCTION public.f();',
  '',
  '--',
  '-- Name: Mixed Case Mixed Case_ref_fkey; Type: FK CONSTRAINT; Schema: we.ird; Owner: postgres',
  '--',
  '',
  'ALTER TABLE ONLY "we.ird"."Mixed Case"',
  '    ADD CONSTRAINT "Mixed Case_ref_fkey" FOREIGN KEY (ref) REFERENCES public.orders(id);',
  '',
  '--',
  '-- Name: TABLE orders; Type: ACL; Schema: public; Owner: postgres',
  '--',
  '',
  'GRANT SELECT ON TABLE public.orders TO PUBLIC;',
  '',
  '--',
  '-- PostgreSQL database dump complete',
  '--',
  '',
  '\\unrestrict abc123',
  '',
].join('\n');

async function filter(wanted: PgTableName[], opts: ConstructorParameters<typeof PgTableFilter>[1] = {}, chunk = 5): Promise<{ out: string; seen: string[] }> {
  const f = new PgTableFilter(wanted, opts);
  const parts: Buffer[] = [];
  f.on('data', (d: Buffer) => parts.push(d));
  const done = new Promise((r, j) => {
    f.on('end', r);
    f.on('error', j);
  });
  const bytes = Buffer.from(SCRIPT);
  for (let i = 0; i < bytes.length; i += chunk) f.write(bytes.subarray(i, i + chunk));
  f.end();
  await done;
  return { out: Buffer.concat(parts).toString(), seen: [...f.tablesSeen] };
}

describe('PgTableFilter', () => {
  it.each([1, 2, 3, 7, 64, 1 << 20])('keeps exactly the sections of public.orders (chunks of %i bytes)', async (chunk) => {
    const { out, seen } = await filter([{ schema: 'public', table: 'orders' }], {}, chunk);
    expect(seen).toEqual(['orders']);
    expect(out).toContain("SELECT pg_catalog.set_config('search_path', '', false);");
    expect(out).toContain('\\restrict abc123');
    expect(out).toContain('\\unrestrict abc123');
    expect(out).toContain("-- Name: x; line inside a literal'::text\n);");
    expect(out).toContain('CREATE SEQUENCE public.orders_id_seq\n    AS integer;');
    expect(out).toContain('OWNED BY public.orders.id');
    expect(out).toContain("SET DEFAULT nextval('public.orders_id_seq'::regclass)");
    expect(out).toContain('1\t--\n2\t-- Name: fake; Type: TABLE; Schema: public; Owner: x\n3\t\\\\.\n\\.\n');
    expect(out).toContain("setval('public.orders_id_seq', 3, true)");
    expect(out).toContain('ADD CONSTRAINT orders_pkey');
    expect(out).toContain('CREATE INDEX orders_note_idx');
    expect(out).toContain("COMMENT ON INDEX public.orders_note_idx IS 'by note';");
    expect(out).toContain('CREATE TRIGGER trg');
    expect(out).toContain('GRANT SELECT ON TABLE public.orders TO PUBLIC;');
    expect(out).toContain("SET default_tablespace = '';");
    for (const gone of ['CREATE SCHEMA', 'Mixed Case', 'ird.orders', 'other_seq', '99\n']) expect(out).not.toContain(gone);
  });

  it('keeps a table in a schema with a dot, its identity sequence, and its foreign key only when the referenced table is there', async () => {
    const mc = { schema: 'we.ird', table: 'Mixed Case' };
    const alone = await filter([mc]);
    expect(alone.seen).toEqual(['"we.ird"."Mixed Case"']);
    expect(alone.out).toContain('CREATE TABLE "we.ird"."Mixed Case"');
    expect(alone.out).toContain('ADD GENERATED ALWAYS AS IDENTITY');
    expect(alone.out).toContain('7\t1\n\\.');
    expect(alone.out).toContain('setval(\'"we.ird"."Mixed Case_id_seq"\', 7, true)');
    expect(alone.out).not.toContain('Mixed Case_ref_fkey');
    expect(alone.out).not.toContain('public.orders');
    const withRef = await filter([mc], { keepReference: (t) => t.schema === 'public' && t.table === 'orders' });
    expect(withRef.out).toContain('Mixed Case_ref_fkey');
    const both = await filter([mc, { schema: 'public', table: 'orders' }]);
    expect(both.out).toContain('Mixed Case_ref_fkey');
  });

  it('tells we."ird.orders" from "we.ird".orders and public.orders', async () => {
    const { out, seen } = await filter([{ schema: 'we', table: 'ird.orders' }]);
    expect(seen).toEqual(['we."ird.orders"']);
    expect(out).toContain('CREATE TABLE we."ird.orders" (x int);');
    expect(out).toContain('99\n\\.');
    expect(out).not.toContain('public.orders');
  });

  it('reports a wanted table the script does not hold by leaving it out of tablesSeen', async () => {
    const { seen, out } = await filter([{ schema: 'public', table: 'nope' }]);
    expect(seen).toEqual([]);
    expect(out).not.toContain('CREATE TABLE');
  });

  it('keeps the values of sequences the destination says a data-only restore owns', async () => {
    const { out } = await filter([{ schema: 'public', table: 'zzz' }], { ownedSequences: [{ schema: 'public', table: 'other_seq' }] });
    expect(out).toContain("setval('public.other_seq', 9, true)");
  });
});

describe('identify', () => {
  it.each([
    ['CREATE UNLOGGED TABLE "A"."b c" (x int);', { schema: 'A', table: 'b c' }],
    ['CREATE UNIQUE INDEX "i ON x" ON ONLY s.t USING btree (a);', { schema: 's', table: 't' }],
    ['CREATE POLICY p ON public."T" USING (true);', { schema: 'public', table: 'T' }],
    ['CREATE RULE r AS\n    ON INSERT TO public.t DO INSTEAD NOTHING;', { schema: 'public', table: 't' }],
    ['CREATE STATISTICS public.st ON a, b FROM public.t;', { schema: 'public', table: 't' }],
    ['COMMENT ON COLUMN "we.ird"."T".col IS \'x\';', { schema: 'we.ird', table: 'T' }],
    ['COMMENT ON CONSTRAINT c ON s.t IS \'x\';', { schema: 's', table: 't' }],
    ['REVOKE ALL ON TABLE s."t" FROM bob;', { schema: 's', table: 't' }],
  ])('%s', (sql, table) => {
    expect(identify(sql)).toMatchObject({ kind: 'table', table });
  });

  it('ignores views, functions and schemas', () => {
    expect(identify('CREATE VIEW public.v AS SELECT 1;').kind).toBe('other');
    expect(identify('CREATE FUNCTION public.f() RETURNS int AS $$ select 1 $$;').kind).toBe('other');
    expect(identify('CREATE SCHEMA s;').kind).toBe('other');
    expect(identify('GRANT ALL ON SCHEMA s TO bob;').kind).toBe('other');
  });
});
