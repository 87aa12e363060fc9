import { describe, expect, it } from '@jest/globals';
import { BackupProgress, describeProgress, type BackupProgressSnapshot } from './backup-progress.js';

/** A tracker on a hand-driven clock: what it reports where, and when. */
function tracker(estimate: number | null, raw: () => number) {
  let now = 1_000_000;
  const samples: BackupProgressSnapshot[] = [];
  const persisted: BackupProgressSnapshot[] = [];
  const logs: Array<{ level: string; text: string }> = [];
  const p = new BackupProgress({
    estimateBytes: estimate,
    rawBytes: raw,
    artifactBytes: () => 42,
    onSample: (s) => samples.push(s),
    persist: async (s) => void persisted.push(s),
    log: (level, _s, text) => logs.push({ level, text }),
    now: () => now,
  });
  return { p, samples, persisted, logs, advance: (ms: number) => (now += ms) };
}

describe('BackupProgress', () => {
  it('measures raw dump bytes against the estimate: percent, rate and ETA', () => {
    let raw = 0;
    const t = tracker(100_000_000, () => raw);
    t.advance(2000);
    raw = 25_000_000;
    const s = t.p.tick();
    expect(s).toMatchObject({ rawBytes: 25_000_000, artifactBytes: 42, estimateBytes: 100_000_000, percent: 25, bytesPerSecond: 12_500_000, etaSeconds: 6, elapsedMs: 2000 });
    expect(describeProgress(s)).toBe('25% 25.0 MB of ~100.0 MB dumped (42 B written), 12.5 MB/s, ETA 6 s');
  });

  it('stays below 100% with no ETA once the dump outgrows its estimate, and never goes backwards', () => {
    let raw = 150;
    const t = tracker(100, () => raw);
    t.advance(1000);
    expect(t.p.tick()).toMatchObject({ rawBytes: 150, percent: 99, etaSeconds: null });
    raw = undefined as unknown as number; // the counter is briefly unreadable
    t.advance(1000);
    expect(t.p.tick().rawBytes).toBe(150);
  });

  it('reports every sample to the job, persists every 2 s, logs at info every 5 s and at debug in between', async () => {
    const t = tracker(null, () => 10);
    for (let i = 0; i < 10; i++) {
      t.advance(1000);
      t.p.tick();
    }
    await t.p.stop();
    expect(t.samples).toHaveLength(10);
    expect(t.persisted.map((s) => s.elapsedMs)).toEqual([2000, 4000, 6000, 8000, 10000]);
    expect(t.logs.filter((l) => l.level === 'info')).toHaveLength(2);
    expect(t.logs.filter((l) => l.level === 'debug')).toHaveLength(8);
    expect(t.samples[0]).toMatchObject({ estimateBytes: null, percent: null, etaSeconds: null });
  });

  it('measures against an estimate that arrives while the dump runs, from that sample on', () => {
    let raw = 0;
    const t = tracker(null, () => raw);
    t.advance(1000);
    raw = 10_000_000;
    expect(t.p.tick()).toMatchObject({ estimateBytes: null, percent: null, etaSeconds: null });
    t.p.setEstimate(40_000_000);
    t.advance(1000);
    raw = 20_000_000;
    expect(t.p.tick()).toMatchObject({ estimateBytes: 40_000_000, percent: 50, bytesPerSecond: 10_000_000, etaSeconds: 2 });
  });
});
