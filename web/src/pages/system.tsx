import { get } from '../api';
import { bytes, duration, relative } from '../format';
import { Alert, Loading, Section, useLoad } from '../ui';

interface Info {
  version: string;
  uptimeSeconds: number;
  process: { hostname: string; nodeVersion: string; loadAverage: number[]; memory: Record<string, number> };
  clients?: Record<string, string>;
  storage: { dir: string; usedBytes: number | null; freeBytes: number | null; totalBytes: number | null; error?: string };
  queue: { prefix: string; counts: Record<string, number>; workers: number | null; error?: string };
  targets: Array<{ name: string; engine: string; database: string; sizeBytes: number | null; lastSuccessfulBackup: { completedAt: string | null } | null; error?: string }>;
  [k: string]: unknown;
}

interface Health {
  status: string;
  details?: Record<string, { status: string; message?: string }>;
}

interface SchedulerStatus {
  workers: Array<Record<string, unknown>>;
  schedulers: Array<Record<string, unknown>>;
}

export function System() {
  const info = useLoad(() => get<Info>('/system/info'));
  const health = useLoad(() => get<Health>('/system/health').catch((e: Error) => ({ status: 'error', details: { request: { status: 'down', message: e.message } } })));
  const sched = useLoad(() => get<SchedulerStatus>('/scheduler/status'));
  const i = info.data;
  return (
    <>
      <h1>System</h1>
      <Alert>{info.error}</Alert>
      <Section title="Health" actions={<button type="button" onClick={() => (info.reload(), health.reload(), sched.reload())}>Refresh</button>}>
        {health.data ? (
          <>
            <p>
              Overall: <strong className={health.data.status === 'ok' ? 'ok' : 'bad'}>{health.data.status}</strong>
            </p>
            <ul>
              {Object.entries(health.data.details ?? {}).map(([k, v]) => (
                <li key={k}>
                  <strong>{k}</strong>: {v.status}
                  {v.message ? ` — ${v.message}` : ''}
                </li>
              ))}
            </ul>
          </>
        ) : (
          <Loading what="health" />
        )}
      </Section>
      {i ? (
        <div className="grid">
          <Section title="Service">
            <dl className="facts">
              <dt>Version</dt>
              <dd>{i.version}</dd>
              <dt>Up</dt>
              <dd>{duration(i.uptimeSeconds * 1000)}</dd>
              <dt>Host</dt>
              <dd>
                {i.process.hostname} · Node {i.process.nodeVersion}
              </dd>
              <dt>Load</dt>
              <dd>{i.process.loadAverage.map((l) => l.toFixed(2)).join(' / ')}</dd>
              <dt>Memory (RSS)</dt>
              <dd>{bytes(i.process.memory.rss)}</dd>
            </dl>
          </Section>
          <Section title="Queue and workers">
            <dl className="facts">
              <dt>Prefix</dt>
              <dd className="mono">{i.queue.prefix}</dd>
              {Object.entries(i.queue.counts ?? {}).map(([k, v]) => (
                <div key={k} className="fact">
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
              <dt>Workers</dt>
              <dd>{i.queue.workers ?? '—'}</dd>
              <dt>Scheduler replicas</dt>
              <dd>{sched.data?.schedulers.length ?? '—'}</dd>
            </dl>
            {i.queue.error ? <Alert>{i.queue.error}</Alert> : null}
          </Section>
          <Section title="Storage">
            <dl className="facts">
              <dt>Directory</dt>
              <dd className="mono">{i.storage.dir}</dd>
              <dt>Used by backups</dt>
              <dd>{bytes(i.storage.usedBytes)}</dd>
              <dt>Free</dt>
              <dd>
                {bytes(i.storage.freeBytes)} of {bytes(i.storage.totalBytes)}
              </dd>
            </dl>
            {i.storage.error ? <Alert>{i.storage.error}</Alert> : null}
          </Section>
          <Section title="Targets">
            <ul>
              {i.targets.map((t) => (
                <li key={t.name}>
                  <strong>{t.name}</strong> ({t.engine} {t.database}) {bytes(t.sizeBytes)} · last good backup {relative(t.lastSuccessfulBackup?.completedAt)}
                  {t.error ? <span className="bad"> — {t.error}</span> : null}
                </li>
              ))}
            </ul>
          </Section>
        </div>
      ) : (
        <Loading what="system information" />
      )}
    </>
  );
}
