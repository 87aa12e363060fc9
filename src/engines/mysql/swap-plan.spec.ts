import { describe, expect, it } from '@jest/globals';
import { EngineError } from '../../common/errors.js';
import { planMysqlSwap, type SchemaObject, type SwapState } from './swap-plan.js';

const view = (name: string, sql = `CREATE VIEW \`${name}\` AS SELECT 1`): SchemaObject => ({ kind: 'VIEW', name, sql });
const trigger = (name: string, table: string): SchemaObject => ({ kind: 'TRIGGER', name, table, sql: `CREATE TRIGGER \`${name}\` ...` });
const proc = (name: string, sql = `CREATE PROCEDURE \`${name}\`() SELECT 1`): SchemaObject => ({ kind: 'PROCEDURE', name, sql });

function state(over: Partial<SwapState>): SwapState {
  return {
    scratch: 'bm_rs_1',
    dest: 'shop',
    trash: 'bm_old_1',
    incoming: [],
    existing: [],
    incomingObjects: [],
    existingObjects: [],
    dataOnly: false,
    spec: { dropExisting: true, scope: 'full' },
    ...over,
  };
}

describe('the MySQL swap plan', () => {
  it('refuses to replace tables, views or objects without dropExisting, naming them', () => {
    const s = state({ incoming: ['orders', 'items'], existing: ['orders'], incomingObjects: [proc('p'), view('v')], existingObjects: [proc('p'), view('v')], spec: { dropExisting: false, scope: 'full' } });
    expect(() => planMysqlSwap(s)).toThrow(EngineError);
    expect(() => planMysqlSwap(s)).toThrow('the destination already holds orders, v, procedure p; pass dropExisting: true to replace them (the destination was not changed)');
  });

  it('moves into an empty destination without dropExisting', () => {
    const plan = planMysqlSwap(state({ incoming: ['orders'], spec: { dropExisting: false, scope: 'full' } }));
    expect(plan.replaced).toEqual([]);
    expect(plan.rename).toEqual(['`bm_rs_1`.`orders` TO `shop`.`orders`']);
    expect(plan.renameBack).toEqual(['`shop`.`orders` TO `bm_rs_1`.`orders`']);
  });

  it('a full restore with dropExisting replaces every table and object of the destination', () => {
    const plan = planMysqlSwap(
      state({
        incoming: ['orders'],
        existing: ['orders', 'old'],
        incomingObjects: [view('v', 'CREATE VIEW `v` AS SELECT * FROM `bm_rs_1`.`orders`')],
        existingObjects: [proc('gone'), trigger('t', 'old')],
      }),
    );
    expect(plan.replaced).toEqual(['orders', 'old']);
    expect(plan.kept).toEqual([]);
    expect(plan.oldObjects.map((o) => o.name)).toEqual(['gone', 't']);
    // The backup's objects are created naming the destination, not the scratch database.
    expect(plan.newObjects).toEqual([view('v', 'CREATE VIEW `v` AS SELECT * FROM `shop`.`orders`')]);
    expect(plan.rename).toEqual(['`shop`.`orders` TO `bm_old_1`.`orders`', '`shop`.`old` TO `bm_old_1`.`old`', '`bm_rs_1`.`orders` TO `shop`.`orders`']);
  });

  it('a partial restore replaces only its own tables, their triggers and the views it brings', () => {
    const plan = planMysqlSwap(
      state({
        spec: { dropExisting: true, scope: 'partial' },
        incoming: ['orders', 'v'],
        existing: ['orders', 'customers'],
        existingObjects: [trigger('t_orders', 'orders'), trigger('t_customers', 'customers'), view('v'), view('other'), proc('p')],
      }),
    );
    expect(plan.replaced).toEqual(['orders']);
    expect(plan.kept).toEqual(['customers']);
    expect(plan.oldObjects.map((o) => o.name)).toEqual(['t_orders', 'v']);
  });

  it('a data-only restore moves the filled tables and keeps their triggers', () => {
    const plan = planMysqlSwap(
      state({
        dataOnly: true,
        spec: { dropExisting: true, scope: 'full' },
        incoming: ['orders'],
        existing: ['orders', 'customers'],
        existingObjects: [trigger('t_orders', 'orders'), trigger('t_customers', 'customers'), proc('p')],
      }),
    );
    expect(plan.replaced).toEqual(['orders']);
    expect(plan.kept).toEqual(['customers']);
    expect(plan.oldObjects.map((o) => o.name)).toEqual(['t_orders']);
    expect(plan.newObjects).toEqual([trigger('t_orders', 'orders')]);
  });

  it('quotes names with backticks doubled', () => {
    const plan = planMysqlSwap(state({ incoming: ['a`b'], dest: 'x' }));
    expect(plan.rename).toEqual(['`bm_rs_1`.`a``b` TO `x`.`a``b`']);
  });
});
