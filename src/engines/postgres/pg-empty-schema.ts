/**
 * SQL that empties `schema` of what `DROP SCHEMA ... CASCADE` would remove (tables, views,
 * sequences, functions, types and domains), except the tables in `keep` (the catalog's), so a full
 * restore can replace the application's objects while the catalog in the same schema stays.
 * Objects that belong to an extension, or to a column (owned sequences), go with their owner.
 */
export function emptySchemaExcept(schema: string, keep: string[]): string {
  const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const ns = `(SELECT oid FROM pg_namespace WHERE nspname = ${lit(schema)})`;
  const own = (catalog: string, oid: string, types: string) =>
    `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype IN (${types}))`;
  return `DO $bm_empty$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relkind AS kind, format('%I.%I', ${lit(schema)}, c.relname) AS name FROM pg_class c
            WHERE c.relnamespace = ${ns} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
              AND NOT (c.relname = ANY (ARRAY[${keep.map(lit).join(', ')}]::text[])) AND ${own('pg_class', 'c.oid', "'e', 'a', 'i'")}
  LOOP
    EXECUTE format('DROP %s IF EXISTS %s CASCADE', CASE r.kind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.name);
  END LOOP;
  FOR r IN SELECT p.prokind AS kind, p.oid::regprocedure::text AS name FROM pg_proc p WHERE p.pronamespace = ${ns} AND ${own('pg_proc', 'p.oid', "'e'")}
  LOOP
    EXECUTE format('DROP %s IF EXISTS %s CASCADE', CASE r.kind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, r.name);
  END LOOP;
  FOR r IN SELECT t.typtype AS kind, format('%I.%I', ${lit(schema)}, t.typname) AS name FROM pg_type t
            WHERE t.typnamespace = ${ns} AND t.typtype IN ('e', 'd', 'r', 'c')
              AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')) AND ${own('pg_type', 't.oid', "'e'")}
  LOOP
    EXECUTE format('DROP %s IF EXISTS %s CASCADE', CASE r.kind WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, r.name);
  END LOOP;
END
$bm_empty$;`;
}
