import { EngineError } from '../../common/errors.js';
import type { RestoreSpec } from '../restorer.interface.js';

/** A view, routine, event or trigger, as `SHOW CREATE ...` gives it with its database as the current one. */
export interface SchemaObject {
  kind: 'VIEW' | 'PROCEDURE' | 'FUNCTION' | 'EVENT' | 'TRIGGER';
  name: string;
  /** The table of a trigger. */
  table?: string;
  sql: string;
  sqlMode?: string;
  timeZone?: string;
}

/** What the swap reads from the server before it changes anything. */
export interface SwapState {
  scratch: string;
  dest: string;
  /** The holding database the replaced tables move to. */
  trash: string;
  /** Base tables that move in: the scratch database's, or (data only) those the dump filled. */
  incoming: string[];
  /** The destination's base tables. */
  existing: string[];
  /** The scratch database's views, routines, events and triggers (none for a data-only restore). */
  incomingObjects: SchemaObject[];
  existingObjects: SchemaObject[];
  /** A data-only restore: the tables keep the destination's schema objects. */
  dataOnly: boolean;
  spec: Pick<RestoreSpec, 'dropExisting' | 'scope'>;
}

/** What the swap does, decided before it starts. */
export interface SwapPlan {
  /** Destination tables moved to the holding database. */
  replaced: string[];
  /** Destination tables left in place (a foreign key from one of them to a replaced table blocks the swap). */
  kept: string[];
  /** Destination objects dropped, and put back if the swap fails. */
  oldObjects: SchemaObject[];
  /** Objects created in the destination after the RENAME, their SQL naming the destination. */
  newObjects: SchemaObject[];
  /** The pairs of the one atomic RENAME TABLE; empty when no table moves. */
  rename: string[];
  /** The pairs that undo it. */
  renameBack: string[];
}

export function mysqlIdent(s: string): string {
  return `\`${s.replace(/`/g, '``')}\``;
}

/**
 * Decides the swap of a MySQL restore from what the two databases hold: which tables and objects
 * are replaced, which are created, and the RENAME statements. Views share the tables' namespace.
 * Pure: no I/O, so every rule is checked by a unit test.
 * @throws EngineError when the destination holds something the restore would replace and
 * `dropExisting` is off.
 */
export function planMysqlSwap(s: SwapState): SwapPlan {
  const incomingViews = s.incomingObjects.filter((o) => o.kind === 'VIEW').map((o) => o.name);
  const existingViews = s.existingObjects.filter((o) => o.kind === 'VIEW').map((o) => o.name);
  const clash = [...s.incoming, ...incomingViews].filter((t) => s.existing.includes(t) || existingViews.includes(t));
  const sameObject = (a: SchemaObject) => (b: SchemaObject) => a.kind === b.kind && a.name === b.name;
  const objectClash = s.incomingObjects.filter((o) => o.kind !== 'VIEW' && s.existingObjects.some(sameObject(o))).map((o) => `${o.kind.toLowerCase()} ${o.name}`);
  if ((clash.length || objectClash.length) && !s.spec.dropExisting) {
    throw new EngineError(`the destination already holds ${[...clash, ...objectClash].slice(0, 5).join(', ')}; pass dropExisting: true to replace them (the destination was not changed)`, { retryable: false });
  }
  const wholeDatabase = s.spec.dropExisting && s.spec.scope === 'full' && !s.dataOnly;
  const replaced = wholeDatabase ? s.existing : s.existing.filter((t) => s.incoming.includes(t));
  const oldObjects = s.existingObjects.filter((o) =>
    o.kind === 'TRIGGER' ? replaced.includes(o.table!)
    : wholeDatabase ? true
    : o.kind === 'VIEW' ? clash.includes(o.name)
    : s.incomingObjects.some(sameObject(o)),
  );
  // Data only: the tables keep the destination's triggers.
  const newObjects = s.dataOnly ? oldObjects.filter((o) => o.kind === 'TRIGGER') : s.incomingObjects.map((o) => ({ ...o, sql: o.sql.split(s.scratch).join(s.dest) }));
  const [scratch, dest, trash] = [s.scratch, s.dest, s.trash].map(mysqlIdent);
  return {
    replaced,
    kept: s.existing.filter((t) => !replaced.includes(t)),
    oldObjects,
    newObjects,
    rename: [...replaced.map((t) => `${dest}.${mysqlIdent(t)} TO ${trash}.${mysqlIdent(t)}`), ...s.incoming.map((t) => `${scratch}.${mysqlIdent(t)} TO ${dest}.${mysqlIdent(t)}`)],
    renameBack: [...s.incoming.map((t) => `${dest}.${mysqlIdent(t)} TO ${scratch}.${mysqlIdent(t)}`), ...replaced.map((t) => `${trash}.${mysqlIdent(t)} TO ${dest}.${mysqlIdent(t)}`)],
  };
}
