import { Injectable } from '@nestjs/common';
import { protectedDatabaseReason, restoreDatabasesVariable } from '../common/database-names.js';
import { DomainError, ErrorCode } from '../common/errors.js';
import { type TargetOptions } from '../config/options.js';
import { Restorers } from '../engines/restorers.js';
import { TargetsService, type ResolvedTarget } from '../targets/targets.service.js';

/**
 * Why a restore may write its destination: it is the target's `own` database, one the
 * configuration `allowed` for the target, or a `new` one (absent, so the restore creates it).
 */
export type DestinationKind = 'own' | 'allowed' | 'new';

export interface Destination {
  database: string;
  kind: DestinationKind;
  /** The physical database's key (`databaseKey()`), shared with every target that reaches it. */
  key: string;
}

/**
 * The one rule of where a restore may write, checked when a restore is requested and again by the
 * worker once it holds the database's lock (a database absent at request time may exist by then):
 * the target's own database, a database that does not exist yet, or one listed in the target's
 * `restoreDatabases`; never a system database nor a `bm_*` scratch name, whatever the list says.
 */
@Injectable()
export class RestoreDestinations {
  constructor(
    private readonly targets: TargetsService,
    private readonly restorers: Restorers,
  ) {}

  /**
   * Decides whether a restore of `target`'s backups may write `database` on its server. Only a
   * database that is neither the target's own nor allowed is looked up on the server.
   * @param phase `request` (the API) or `run` (the worker), for the wording of the refusal.
   * @throws DomainError RESTORE_DESTINATION_FORBIDDEN naming the reason and, for an existing database, the setting
   * that would allow it; the server's own error when the lookup fails.
   */
  async check(target: ResolvedTarget, database: string, phase: 'request' | 'run'): Promise<Destination> {
    const key = this.targets.keyOf(target, database);
    const protectedReason = protectedDatabaseReason(database);
    if (protectedReason) throw new DomainError(ErrorCode.DestinationForbidden, `Refusing to restore: ${protectedReason}`);
    if (database === target.database) return { database, kind: 'own', key };
    if (target.restoreDatabases?.includes(database)) return { database, kind: 'allowed', key };
    if (!(await this.restorers.for(target.engine).databaseExists(target, database))) return { database, kind: 'new', key };
    throw new DomainError(
      ErrorCode.DestinationForbidden,
      `Database "${database}" ${phase === 'request' ? 'already exists' : 'exists now'} on the server of target "${target.name}" and is neither its own ` +
        `database ("${target.database}") nor allowed for it, so the restore leaves it alone. A restore writes only the target's own database, ` +
        `a database that does not exist yet (it is created), or one allowed for the target: to allow this one, add it to ` +
        `${restoreDatabasesVariable(target.name)} (restoreDatabases of the target in forRoot).`,
    );
  }

  /**
   * The target whose own database is `database` on `target`'s server: `target` itself, else the
   * first (by name) configured target that reaches the same physical database; undefined when
   * no target does.
   */
  targetReaching(target: TargetOptions, database: string): TargetOptions | undefined {
    if (database === target.database) return target;
    return this.targets.reaching(this.targets.keyOf(target, database))[0];
  }
}
