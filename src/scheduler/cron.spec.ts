import { describe, expect, it } from '@jest/globals';
import { checkCron, checkTimezone, isRunTime, nextRuns, runTimeOfTick } from './cron.js';

describe('cron helpers', () => {
  it('names the run a tick stands for, early or late, the same on every replica', () => {
    const run = new Date('2025-01-01T19:00:00.000Z'); // 02:00 in Jakarta
    for (const skew of [-300, 0, 5, 400, 1200]) {
      expect(runTimeOfTick('0 2 * * *', 'Asia/Jakarta', new Date(run.getTime() + skew))).toEqual(run);
    }
    expect(runTimeOfTick('* * * * * *', 'UTC', new Date('2025-01-01T00:00:10.030Z'))).toEqual(new Date('2025-01-01T00:00:10.000Z'));
    expect(runTimeOfTick('* * * * * *', 'UTC', new Date('2025-01-01T00:00:09.990Z'))).toEqual(new Date('2025-01-01T00:00:10.000Z'));
    expect(runTimeOfTick('0 2 * * *', 'UTC', new Date('2025-01-01T05:00:00Z'))).toBeUndefined();
  });

  it('tells run times from other instants, and lists the next runs in the zone', () => {
    expect(isRunTime('0 2 * * *', 'Asia/Jakarta', new Date('2025-01-01T19:00:00Z'))).toBe(true);
    expect(isRunTime('0 2 * * *', 'UTC', new Date('2025-01-01T19:00:00Z'))).toBe(false);
    expect(nextRuns('0 4 1 * *', 'UTC', 3, new Date('2025-01-15T00:00:00Z'))).toEqual([
      new Date('2025-02-01T04:00:00Z'),
      new Date('2025-03-01T04:00:00Z'),
      new Date('2025-04-01T04:00:00Z'),
    ]);
  });

  it('rejects bad expressions and zones with a message that says which', () => {
    expect(() => checkCron('0 25 * * *')).toThrow(/cron "0 25 \* \* \*" is invalid/);
    expect(() => checkCron('* * * * * * *')).toThrow(/needs 5 fields/);
    expect(() => checkCron('*/5 * * * * *')).not.toThrow();
    expect(() => checkTimezone('Asia/Atlantis')).toThrow(/timezone "Asia\/Atlantis" is not an IANA time zone/);
    expect(() => checkTimezone('Asia/Jakarta')).not.toThrow();
  });
});
