import { describe, expect, it } from '@jest/globals';
import { resolveModuleOptions } from './module-options.js';

const base = { auth: { jwtSecret: 'x'.repeat(40) } };

describe('resolveModuleOptions: what a host gets without asking', () => {
  it('plans nothing: no default plans and no drills, unless the host lists them', async () => {
    const o = await resolveModuleOptions(base, {});
    expect(o).toMatchObject({ workers: false, scheduler: false, relayEvents: true });
    expect(o.schedules).toMatchObject({ defaultPlans: [], drillCron: '' });
    // Retention still has its policies and cleanup time for a host that turns the scheduler on.
    expect(o.schedules?.retention.cleanupCron).toBe('0 5 * * *');

    const asked = await resolveModuleOptions({ ...base, schedules: { defaultPlans: [{ type: 'daily', cron: '0 1 * * *' }], drillCron: '0 6 * * 0' } as never }, {});
    expect(asked.schedules).toMatchObject({ defaultPlans: [{ type: 'daily', cron: '0 1 * * *' }], drillCron: '0 6 * * 0' });
  });

  it('needs no JWT secret without controllers (a worker), and says what to pass with them', async () => {
    await expect(resolveModuleOptions({ workers: true }, { controllers: false })).resolves.toMatchObject({ workers: true, controllers: false });
    await expect(resolveModuleOptions({}, {})).rejects.toThrow(/auth\.jwtSecret \(at least 32 characters\) is required for the built-in JWT guard; or pass a host `guard`, or `controllers: false`/);
  });

  it('refuses a switch that is not a boolean, naming it', async () => {
    await expect(resolveModuleOptions({ ...base, relayEvents: 'no' as never }, {})).rejects.toThrow(/relayEvents must be true or false \(got "no"\)/);
    await expect(resolveModuleOptions({ ...base, workers: 1 as never }, {})).rejects.toThrow(/workers must be true or false \(got 1\)/);
  });
});
