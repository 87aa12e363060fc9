import { Inject, Injectable } from '@nestjs/common';
import { EngineError } from '../common/errors.js';
import type { EngineKind } from '../config/options.js';
import { DATABASE_RESTORERS, type DatabaseRestorer } from './restorer.interface.js';

/** Picks the restore adapter for a target's engine. */
@Injectable()
export class Restorers {
  private readonly byKind: Map<EngineKind, DatabaseRestorer>;

  constructor(@Inject(DATABASE_RESTORERS) restorers: DatabaseRestorer[]) {
    this.byKind = new Map(restorers.map((r) => [r.kind, r]));
  }

  for(kind: EngineKind): DatabaseRestorer {
    const r = this.byKind.get(kind);
    if (!r) throw new EngineError(`Restoring ${kind} databases is not supported yet`, { retryable: false });
    return r;
  }
}
