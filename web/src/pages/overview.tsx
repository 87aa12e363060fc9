import { allows, get, GOOD, qs, type Backup, type Page, type Role, type Schedule, type Target } from '../api';
import { RateBar, Trend } from '../charts';
import { bytes, dateTime, duration, relative, short } from '../format';
import { useLive } from '../live';
import { Alert, BackupStatusChip, Loading, Section, useLoad } from '../ui';

interface TargetSummary {
  target: Target;
  newestGood?: Backup;
  last?: Backup;
  nextRun?: string;
  ok: number;
  finished: number;
  sizes: number[];
  durations: number[];
}

async function load(): Promise<{ summaries: TargetSummary[]; failures: Backup[] }> {
  const degraded: Backup[] = [];
  const [targets, schedules, failed, corrupted] = await Promise.all([
    get<Target[]>('/targets'),
    get<Schedule[] | Page<Schedule>>('/schedules').catch(() => [] as Schedule[]),
    get<Page<Backup>>(`/backups${qs({ status: 'FAILED', limit: 10 })}`),
    get<Page<Backup>>(`/backups${qs({ status: 'CORRUPTED', limit: 10 })}`),
  ]);
  const scheduleList = Array.isArray(schedules) ? schedules : schedules.items;
  const summaries = await Promise.all(
    targets.map(async (target) => {
      const recent = (await get<Page<Backup>>(`/backups${qs({ target: target.name, limit: 30 })}`)).items;
      const finished = recent.filter((b) => GOOD.has(b.status) || b.status === 'FAILED' || b.status === 'CORRUPTED');
      const good = recent.filter((b) => GOOD.has(b.status));
      degraded.push(...good.filter((b) => b.degraded));
      const chrono = [...good].reverse();
      const next = scheduleList
        .filter((s) => s.target === target.name && s.enabled && s.nextRunAt)
        .map((s) => s.nextRunAt!)
        .sort()[0];
      return {
        target,
        newestGood: good[0],
        last: recent[0],
        nextRun: next,
        ok: good.length,
        finished: finished.length,
        sizes: chrono.map((b) => b.sizeBytes ?? 0),
        durations: chrono.map((b) => b.durationMs ?? 0),
      };
    }),
  );
  const week = Date.now() - 7 * 86_400_000;
  const failures = [...failed.items, ...corrupted.items, ...degraded].filter((b) => new Date(b.createdAt).getTime() > week).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return { summaries, failures };
}

export function Overview({ role }: { role: Role }) {
  const { data, error, loading, reload } = useLoad(load);
  useLive((m) => {
    if (m.kind === 'backup' && m.event !== 'backup.requested') reload();
  });
  return (
    <>
      <h1>Overview</h1>
      <Alert>{error}</Alert>
      {loading && !data ? <Loading what="targets" /> : null}
      {data && data.failures.length ? (
        <Section title="Needs attention">
          <ul className="failures">
            {data.failures.map((b) => (
              <li key={b.id}>
                <BackupStatusChip b={b} /> <a href={`#/backups/${b.id}`}>{b.target} {short(b.id)}</a> {relative(b.createdAt)} —{' '}
                {b.degraded ? `${(b.failedDestinations ?? []).join(', ')} lacks its copy; a re-copy job repairs it` : (b.errorMessage ?? 'verification found a problem')}
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
      <div className="grid">
        {data?.summaries.map((s) => {
          const age = s.newestGood ? Date.now() - new Date(s.newestGood.completedAt ?? s.newestGood.createdAt).getTime() : Infinity;
          return (
            <Section key={s.target.name} title={s.target.name}>
              <dl className="facts">
                <dt>Database</dt>
                <dd>
                  {s.target.engine} · {s.target.database}
                </dd>
                <dt>Newest good backup</dt>
                <dd className={age > 86_400_000 ? 'warn' : undefined}>
                  {s.newestGood ? (
                    <a href={`#/backups/${s.newestGood.id}`}>
                      {relative(s.newestGood.completedAt ?? s.newestGood.createdAt)} ({bytes(s.newestGood.sizeBytes)})
                    </a>
                  ) : (
                    'none yet'
                  )}
                </dd>
                <dt>Last backup</dt>
                <dd>{s.last ? <BackupStatusChip b={s.last} /> : '—'}</dd>
                <dt>Next scheduled run</dt>
                <dd title={s.nextRun ? dateTime(s.nextRun) : undefined}>{s.nextRun ? relative(s.nextRun) : 'none scheduled'}</dd>
                <dt>Success rate (last 30)</dt>
                <dd>
                  <RateBar ok={s.ok} total={s.finished} />
                </dd>
              </dl>
              <div className="trends">
                <Trend values={s.sizes} label="Size" format={bytes} />
                <Trend values={s.durations} label="Duration" format={duration} />
              </div>
              {allows(role, 'operator') ? <p className="muted">Start a backup from the Backups page.</p> : null}
            </Section>
          );
        })}
      </div>
      {data && !data.summaries.length ? <p className="muted">No targets are configured (BACKUP_TARGET_&lt;NAME&gt;_URL).</p> : null}
    </>
  );
}
