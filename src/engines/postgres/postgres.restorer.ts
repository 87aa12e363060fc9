import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { EngineError } from '../../common/errors.js';
import type { ProcessRunner } from '../../common/process-runner.js';
import type { ResolvedTarget } from '../../targets/targets.service.js';
import { runRestoreClient } from '../restore-client.js';
import { discardInput, withSpooledDump } from '../restore-spool.js';
import { DATABASE_NAME, type DatabaseRestorer, type RestoreInput, type RestoreRunOptions, type RestoreSpec } from '../restorer.interface.js';
import { formatPgTable, parsePgTable, pgQualifiedSql, pgQuoteIdent as ident, TableNameError, type PgTableName } from '../table-names.js';
import { pgQuery } from './connection.js';
import type { PostgresEngine } from './postgres.engine.js';
import { PG_USER_SCHEMAS, pgNameSet } from './postgres.engine.js';
import { restoreIntoNewDatabase } from './pg-parallel-restore.js';
import { emptySchemaExcept } from './pg-empty-schema.js';
import { PgTableFilter } from './pg-table-filter.js';
import { DumpTransactionFilter, GATE_COMMIT, GATE_OPEN, GATE_TRIPPED } from './psql-commit-gate.js';

const USER_SCHEMAS = PG_USER_SCHEMAS;

/**
 * PostgreSQL restores, always through psql in its restricted mode (no meta-command such as `\!`
 * can run) with `ON_ERROR_STOP`, in one transaction that only this code can commit (see
 * `psql-commit-gate.ts`): the stream opens it, and COMMIT is appended once the checksum gate has
 * seen the last byte, the decompressor exited 0 and the size is the recorded one. Plain dumps
 * stream straight in. Custom archives are first unpacked into a private temp file and verified;
 * `pg_restore -f -` then turns the file into a script for psql, and its exit status is checked
 * before COMMIT too. A failure, a kill or a lost worker before that point leaves the destination
 * as it was. A whole custom archive restored into a database the restore created goes through
 * `pg_restore -j` into a scratch database instead, renamed into place at the end
 * (`pg-parallel-restore.ts`).
 */
export class PostgresRestorer implements DatabaseRestorer {
  readonly kind = 'postgres' as const;

  constructor(
    private readonly engine: PostgresEngine,
    private readonly runner: ProcessRunner,
    private readonly tempDir: string,
    /** `pg_restore --jobs` of a custom archive restored into a new database. */
    private readonly jobs = 1,
  ) {}

  async databaseExists(target: ResolvedTarget, name: string): Promise<boolean> {
    return (await this.query(target, target.database, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length > 0;
  }

  async createDatabase(target: ResolvedTarget, name: string): Promise<void> {
    await this.query(target, target.database, `CREATE DATABASE ${ident(checkName(name))}`);
  }

  createsAtCommit(spec: Pick<RestoreSpec, 'format' | 'scope' | 'includeSchema' | 'onlyTables'>): boolean {
    return spec.format === 'custom' && spec.scope === 'full' && spec.includeSchema && !spec.onlyTables?.length;
  }

  async dropDatabase(target: ResolvedTarget, name: string): Promise<void> {
    if (name === target.database) throw new EngineError(`refusing to drop the target's own database ${name}`, { retryable: false });
    await this.query(target, target.database, `DROP DATABASE IF EXISTS ${ident(checkName(name))} WITH (FORCE)`);
  }

  async tableRows(target: ResolvedTarget, database = target.database): Promise<Record<string, number>> {
    return this.engine.countRows(target, database);
  }

  async restore(target: ResolvedTarget, asked: RestoreSpec, input: RestoreInput, run: RestoreRunOptions): Promise<void> {
    const dest: ResolvedTarget = { ...target, database: checkName(asked.database) };
    // A restore of some tables out of the backup loads like a backup of just those tables.
    const only = asked.onlyTables?.length ? asked.onlyTables.map(recordedTable) : undefined;
    const spec: RestoreSpec = only ? { ...asked, scope: 'selective', tables: only.map(formatPgTable) } : asked;
    const classify = (stderr: string, code: number | null) => classifyRestoreError(stderr, code, dest, spec);
    if (spec.createdDatabase && this.createsAtCommit(spec)) {
      const deps = { engine: this.engine, runner: this.runner, tempDir: this.tempDir, jobs: this.jobs };
      return restoreIntoNewDatabase(deps, target, { name: dest.database, exists: !spec.createAtCommit }, input, run, classify);
    }
    const args = ['--no-password', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', '-'];
    // Both formats load as one psql script with the same prelude: a custom archive is turned into
    // its script by `pg_restore -f -`, so the commit gate, the truncation of a data-only restore and
    // the schemas a selective restore needs are the same for both.
    let prelude: string;
    let psql: string;
    let tableFilter: (() => PgTableFilter) | undefined;
    try {
      if (only) tableFilter = await this.tableFilter(dest, spec, only);
      prelude = await this.prelude(dest, spec, run.lockWaitTimeoutMs);
      psql = (await this.engine.clientProgram('psql', dest)).path;
    } catch (err) {
      discardInput(input);
      throw err;
    }
    let filter: PgTableFilter | undefined;
    const guards = () => {
      filter = tableFilter?.();
      return [...(filter ? [filter] : []), new DumpTransactionFilter(), new PsqlRestrictGuard(GATE_OPEN + prelude)];
    };
    const commit = {
      tail: GATE_COMMIT,
      before: async () => {
        const missing = filter ? spec.tables!.filter((t) => !filter!.tablesSeen.has(t)) : [];
        if (missing.length) {
          throw new EngineError(`the backup holds no table ${missing.map((t) => JSON.stringify(t)).join(', ')}; nothing was restored`, { retryable: false });
        }
        await run.beforeCommit?.();
      },
    };
    if (spec.format === 'custom') {
      const pgRestore = (await this.engine.clientProgram('pg_restore', dest).catch((err: Error) => {
        discardInput(input);
        throw err;
      })).path;
      return withSpooledDump(this.tempDir, input, run.signal, (file) =>
        this.engine.withConnectionEnv(dest, async (env) => {
          const list = only ? await this.tableOfContents(pgRestore, file, only) : undefined;
          const script = this.archiveScript(pgRestore, file, list);
          try {
            await runRestoreClient(this.runner, psql, args, env, script.input, guards(), run, classify, commit);
          } finally {
            script.stop();
          }
        }),
      );
    }
    await this.engine.withConnectionEnv(dest, (env) => runRestoreClient(this.runner, psql, args, env, input, guards(), run, classify, commit));
  }

  /**
   * The archive's table of contents without the data of tables other than `only` (`pg_restore -L`),
   * so that restoring a few tables does not read the rest of the archive's data. The list is a
   * superset (its names are not quoted); `PgTableFilter` keeps exactly the tables asked for.
   */
  private async tableOfContents(pgRestore: string, file: string, only: PgTableName[]): Promise<string> {
    const toc = await this.runner.output(pgRestore, ['-l', '--', file]).catch((err: Error) => {
      throw new EngineError(`pg_restore could not list the archive: ${err.message}; nothing was restored`, { retryable: false });
    });
    const flat = (v: string) => v.replace(/[\r\n]/g, ' ');
    const mayBeWanted = (line: string) => only.some((t) => line.includes(` ${flat(t.schema)} ${flat(t.table)} `));
    const lines = toc.split('\n').map((line) => {
      const m = /^\d+; \d+ \d+ (TABLE DATA|BLOBS|BLOB|LARGE OBJECT|BLOB METADATA) /.exec(line);
      return m && !(m[1] === 'TABLE DATA' && mayBeWanted(line)) ? `;${line}` : line;
    });
    const path = join(dirname(file), 'toc');
    await writeFile(path, lines.join('\n') + '\n', { mode: 0o600, flag: 'wx' });
    return path;
  }

  /**
   * The filter that keeps only `only` of the script, with what it needs to know of the
   * destination: which tables a foreign key may keep pointing at (those that stay there), and
   * (data only) the sequences the tables own there. Refuses, before anything changes, to drop a
   * table that another table's foreign key or a view depends on.
   */
  private async tableFilter(dest: ResolvedTarget, spec: RestoreSpec, only: PgTableName[]): Promise<() => PgTableFilter> {
    const exists = await this.databaseExists(dest, dest.database);
    const present = exists ? await this.userTables(dest) : [];
    const wanted = pgNameSet(only);
    const stays = new Set(present.map(formatPgTable).filter((t) => !wanted.has(t)));
    let owned: PgTableName[] = [];
    if (exists && spec.dropExisting && spec.includeSchema) {
      const deps = await this.query<{ dependent: string; kind: string; target: string }>(
        dest,
        dest.database,
        `SELECT DISTINCT format('%I.%I', dn.nspname, dc.relname) AS dependent, CASE WHEN r.oid IS NOT NULL THEN 'view' ELSE 'foreign key' END AS kind,
                format('%I.%I', tn.nspname, tc.relname) AS target
           FROM pg_depend d
           JOIN pg_class tc ON tc.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
           JOIN pg_namespace tn ON tn.oid = tc.relnamespace
           LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
           LEFT JOIN pg_constraint k ON d.classid = 'pg_constraint'::regclass AND k.oid = d.objid AND k.contype = 'f'
           JOIN pg_class dc ON dc.oid = coalesce(r.ev_class, k.conrelid)
           JOIN pg_namespace dn ON dn.oid = dc.relnamespace
          WHERE (tn.nspname, tc.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))
            AND (dn.nspname, dc.relname) NOT IN (SELECT * FROM unnest($1::text[], $2::text[]))
          ORDER BY 1 LIMIT 5`,
        [only.map((t) => t.schema), only.map((t) => t.table)],
      );
      if (deps.length) {
        const shown = deps.map((d) => `${d.kind} ${d.dependent} → ${d.target}`).join(', ');
        throw new EngineError(
          `objects that this restore does not replace depend on tables it would drop (${shown}); restore those tables too, or into a new targetDatabase (the destination was not changed)`,
          { retryable: false },
        );
      }
    }
    if (exists && !spec.includeSchema) {
      owned = await this.query<PgTableName>(
        dest,
        dest.database,
        `SELECT sn.nspname AS schema, s.relname AS "table"
           FROM pg_class s JOIN pg_namespace sn ON sn.oid = s.relnamespace
           JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')
           JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
          WHERE s.relkind = 'S' AND (tn.nspname, t.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [only.map((t) => t.schema), only.map((t) => t.table)],
      );
    }
    return () => new PgTableFilter(only, { keepReference: (t) => stays.has(formatPgTable(t)), ownedSequences: owned });
  }

  /** `pg_restore -f -` over an unpacked archive: the plain script it holds, as a restore input. */
  private archiveScript(pgRestore: string, file: string, list?: string): { input: RestoreInput; stop(): void } {
    const child = this.runner.spawn(pgRestore, ['-f', '-', ...(list ? ['-L', list] : []), '--', file], { env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = this.runner.wait(child).then(({ code, signal, stderr }) => {
      if (code !== 0) throw new EngineError(`pg_restore could not read the archive (${signal ?? `exit ${code}`}): ${stderr.replace(/^pg_restore: (error: )?/gm, '') || 'no message'}; nothing was restored`, { retryable: false });
    });
    exited.catch(() => undefined);
    return {
      input: { source: child.stdout!, transforms: [], done: [exited], verified: () => exited },
      stop: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    };
  }

  /**
   * SQL run first, inside the restore's transaction: with `dropExisting`, clears what the dump
   * will recreate; for a partial/selective dump, creates the schemas of its tables that the
   * destination lacks (pg_dump --table writes the tables, not their schemas).
   */
  private async prelude(dest: ResolvedTarget, spec: RestoreSpec, lockWaitMs: number): Promise<string> {
    const out: string[] = [];
    // Recorded names are canonical (table-names.ts): parsed back to exact (schema, table) pairs.
    const tables = (spec.tables ?? []).map(recordedTable);
    const listed = tables.map(pgQualifiedSql);
    const partial = spec.scope !== 'full' && listed.length > 0;
    if (spec.dropExisting) {
      out.push(`SET lock_timeout = ${Math.max(1, Math.floor(lockWaitMs))};`);
      // A backup-manager catalog in the destination is not the application's: it stays as it is.
      const catalog = await this.engine.catalogTablesIn(dest, dest.database);
      const kept = pgNameSet(catalog);
      if (!spec.includeSchema) {
        const all = partial ? listed : (await this.userTables(dest)).filter((t) => !kept.has(formatPgTable(t))).map(pgQualifiedSql);
        if (all.length) out.push(`TRUNCATE ${all.join(', ')};`);
      } else if (partial) {
        for (const t of listed) out.push(`DROP TABLE IF EXISTS ${t} CASCADE;`);
      } else {
        const schemas = await this.query<{ name: string }>(dest, dest.database, `SELECT n.nspname AS name FROM pg_namespace n WHERE ${USER_SCHEMAS} ORDER BY 1`);
        const version = await this.query<{ v: string }>(dest, dest.database, `SELECT current_setting('server_version_num') AS v`);
        const catalogSchemas = new Set(catalog.map((t) => t.schema));
        out.push('SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata;');
        for (const s of schemas) {
          if (catalogSchemas.has(s.name)) out.push(emptySchemaExcept(s.name, catalog.filter((t) => t.schema === s.name).map((t) => t.table)));
          else out.push(`DROP SCHEMA IF EXISTS ${ident(s.name)} CASCADE;`);
        }
        if (!catalogSchemas.has('public')) {
          out.push(`CREATE SCHEMA public AUTHORIZATION ${Number(version[0].v) >= 140000 ? 'pg_database_owner' : 'CURRENT_USER'};`);
          out.push('GRANT USAGE ON SCHEMA public TO PUBLIC;', "COMMENT ON SCHEMA public IS 'standard public schema';");
        }
      }
      out.push('RESET lock_timeout;');
    }
    if (spec.includeSchema && partial) {
      const wanted = [...new Set(tables.map((t) => t.schema))];
      const present = await this.query<{ name: string }>(dest, dest.database, 'SELECT nspname AS name FROM pg_namespace WHERE nspname = ANY($1)', [wanted]);
      for (const s of wanted.filter((w) => !present.some((p) => p.name === w))) out.push(`CREATE SCHEMA ${ident(s)};`);
    }
    return out.length ? out.join('\n') + '\n' : '';
  }

  /** Every user base table of the destination (what a full data-only restore refills). */
  private async userTables(dest: ResolvedTarget): Promise<PgTableName[]> {
    const sql = `SELECT n.nspname AS schema, c.relname AS "table" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND ${USER_SCHEMAS} ORDER BY 1, 2`;
    return this.query<PgTableName>(dest, dest.database, sql);
  }

  private query<T>(target: ResolvedTarget, database: string, sql: string, params: unknown[] = []): Promise<T[]> {
    return pgQuery<T>(target, sql, params, { database });
  }
}

/**
 * Puts psql in restricted mode before the first byte of the dump, so no meta-command in it
 * (`\!`, `\o`, `\copy`, ...) can run; psql then refuses it and, with ON_ERROR_STOP, rolls back.
 * pg_dump (since 15.14/16.10/17.6) writes its own `\restrict KEY` header and `\unrestrict KEY`
 * trailer; both are dropped (only that exact pair, with the header's random key), because a
 * second `\restrict` is itself refused in restricted mode. `prelude` (SQL) goes right after.
 */
export class PsqlRestrictGuard extends Transform {
  private readonly key = randomBytes(24).toString('hex');
  private header: Buffer | undefined = Buffer.alloc(0);
  private trailer?: Buffer;
  private carry = Buffer.alloc(0);

  constructor(private readonly prelude: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.header === undefined) return cb(null, this.body(chunk, false));
    this.header = Buffer.concat([this.header, chunk]);
    const done = this.scanHeader(false);
    cb(null, done);
  }

  override _flush(cb: TransformCallback): void {
    const out: Buffer[] = [];
    if (this.header !== undefined) out.push(this.scanHeader(true) ?? Buffer.alloc(0));
    out.push(this.body(Buffer.alloc(0), true));
    cb(null, Buffer.concat(out));
  }

  /** Reads leading comment/blank lines; returns the bytes to emit once the header is over. */
  private scanHeader(final: boolean): Buffer | undefined {
    const buf = this.header!;
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl === -1 && !final) {
        if (buf.length - pos > 1 << 16) break; // a very long first line: not a header
        return undefined;
      }
      const end = nl === -1 ? buf.length : nl;
      const line = buf.subarray(pos, end).toString('utf8').replace(/\r$/, '');
      const m = /^\\restrict ([A-Za-z0-9]{1,256})$/.exec(line);
      if (m) {
        this.trailer = Buffer.from(`\n\\unrestrict ${m[1]}`);
        const rest = Buffer.concat([buf.subarray(0, pos), buf.subarray(nl === -1 ? buf.length : nl + 1)]);
        return this.start(rest, final);
      }
      if (line === '' || line.startsWith('--')) {
        if (nl === -1) break;
        pos = nl + 1;
        continue;
      }
      break;
    }
    return this.start(buf, final);
  }

  private start(rest: Buffer, final: boolean): Buffer {
    this.header = undefined;
    const head = Buffer.from(`\\restrict ${this.key}\n${this.prelude}`);
    return Buffer.concat([head, this.body(rest, final)]);
  }

  /** Passes bytes through, dropping the dump's own `\unrestrict KEY` line. */
  private body(chunk: Buffer, final: boolean): Buffer {
    if (!this.trailer) return chunk;
    const out: Buffer[] = [];
    let buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    for (;;) {
      const i = buf.indexOf(this.trailer);
      if (i === -1) break;
      const after = i + this.trailer.length;
      if (after + 1 >= buf.length && !final) break; // need to see what follows
      const eol = after >= buf.length ? 0 : buf[after] === 10 ? 1 : buf[after] === 13 && buf[after + 1] === 10 ? 2 : -1;
      if (eol === -1) {
        out.push(buf.subarray(0, after)); // not that exact line
        buf = buf.subarray(after);
        continue;
      }
      out.push(buf.subarray(0, i + 1));
      buf = buf.subarray(after + eol);
    }
    if (final) {
      this.carry = Buffer.alloc(0);
      out.push(buf);
    } else {
      const keep = Math.min(buf.length, this.trailer.length + 2);
      this.carry = Buffer.from(buf.subarray(buf.length - keep));
      out.push(buf.subarray(0, buf.length - keep));
    }
    return Buffer.concat(out);
  }
}

function classifyRestoreError(stderr: string, code: number | null, dest: ResolvedTarget, spec: RestoreSpec): EngineError {
  let text = stderr.replace(/^(psql|pg_restore):(<stdin>:\d+:)? ?(error: )?/gm, '').trim() || `restore client exited with code ${code}`;
  if (/backslash commands are restricted/.test(text)) text = `the dump contains a psql meta-command (e.g. \\! or \\o), which is refused: ${text}`;
  else if (GATE_TRIPPED.test(text)) text = `the dump ends the restore's transaction itself (a COMMIT inside it), which the restore refuses: ${text}`;
  else if (/permission denied to create temporary tables/.test(text)) text = `the restore needs the TEMPORARY privilege on ${dest.database} (PostgreSQL grants it to PUBLIC by default): ${text}`;
  else if (/already exists/.test(text) && !spec.dropExisting) text += ' (the destination already holds these objects; pass dropExisting: true to replace them)';
  const msg = `PostgreSQL ${dest.host}:${dest.port}/${dest.database}: restore failed and was rolled back: ${text}`;
  return new EngineError(msg.slice(0, 2000), { retryable: false });
}

function checkName(name: string): string {
  if (!DATABASE_NAME.test(name)) throw new EngineError(`invalid database name ${JSON.stringify(name).slice(0, 80)}`, { retryable: false });
  return name;
}

/** The exact (schema, table) of a table name recorded on a backup. */
function recordedTable(name: string): PgTableName {
  try {
    return parsePgTable(name);
  } catch (err) {
    if (err instanceof TableNameError) throw new EngineError(`the backup names a table that cannot be read: ${err.message}`, { retryable: false });
    throw err;
  }
}
