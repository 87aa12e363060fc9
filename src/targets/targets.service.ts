import { Inject, Injectable } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import { databaseKey } from '../common/database-key.js';
import { DomainError, ErrorCode } from '../common/errors.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions, type EngineKind, type TargetOptions } from '../config/options.js';

/** A target with its password resolved, for the moment a connection is made. Never serialised. */
export interface ResolvedTarget extends TargetOptions {
  password: string | undefined;
}

/** What the API shows of a target: no password, no password file path. */
export interface TargetView {
  name: string;
  engine: EngineKind;
  host: string;
  port: number;
  database: string;
  user: string;
  coreTables: string[];
  /** Existing databases besides its own that restores may replace. */
  restoreDatabases: string[];
}

@Injectable()
export class TargetsService {
  private readonly byName: Map<string, TargetOptions>;

  constructor(@Inject(BACKUP_MANAGER_OPTIONS) options: BackupManagerOptions) {
    this.byName = new Map(options.targets.map((t) => [t.name, t]));
  }

  list(): TargetView[] {
    return [...this.byName.values()].map((t) => this.view(t));
  }

  /** @throws DomainError TARGET_NOT_FOUND naming the configured targets. */
  get(name: string): TargetOptions {
    const t = typeof name === 'string' ? this.byName.get(name) : undefined;
    if (!t) {
      const known = [...this.byName.keys()].join(', ') || 'none configured';
      throw new DomainError(ErrorCode.TargetNotFound, `Unknown target "${String(name).slice(0, 64)}" (known targets: ${known})`);
    }
    return t;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  async resolve(name: string): Promise<ResolvedTarget> {
    const t = this.get(name);
    const password = t.passwordFile ? (await readFile(t.passwordFile, 'utf8')).replace(/\r?\n$/, '') : t.password;
    return { ...t, password };
  }

  view(t: TargetOptions): TargetView {
    return {
      name: t.name,
      engine: t.engine,
      host: t.host,
      port: t.port,
      database: t.database,
      user: t.user,
      coreTables: t.coreTables ?? [],
      restoreDatabases: t.restoreDatabases ?? [],
    };
  }

  /**
   * The key of the physical database `database` (default: the target's own) on the target's
   * server: the same for every target name that reaches it (see `databaseKey`).
   */
  keyOf(t: TargetOptions, database = t.database): string {
    return databaseKey({ engine: t.engine, host: t.host, port: t.port, database });
  }

  /** The targets whose own database is the physical database `key`, sorted by name. */
  reaching(key: string): TargetOptions[] {
    return [...this.byName.values()].filter((t) => this.keyOf(t) === key).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Every secret a target may hold, for redaction. */
  secretsOf(t: ResolvedTarget | undefined): string[] {
    return t?.password ? [t.password] : [];
  }
}
