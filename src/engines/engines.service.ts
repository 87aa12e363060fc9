import { Inject, Injectable } from '@nestjs/common';
import type { EngineKind } from '../config/options.js';
import { DATABASE_ENGINES, type DatabaseEngine } from './engine.interface.js';

/** Picks the adapter for a target's engine. */
@Injectable()
export class EnginesService {
  private readonly byKind: Map<EngineKind, DatabaseEngine>;

  constructor(@Inject(DATABASE_ENGINES) engines: DatabaseEngine[]) {
    this.byKind = new Map(engines.map((e) => [e.kind, e]));
  }

  for(kind: EngineKind): DatabaseEngine {
    const e = this.byKind.get(kind);
    if (!e) throw new Error(`No engine adapter for ${kind}`);
    return e;
  }

  all(): DatabaseEngine[] {
    return [...this.byKind.values()];
  }
}
