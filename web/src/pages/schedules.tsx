import { useEffect, useMemo, useState } from 'react';
import { allows, api, get, qs, type Role, type Schedule, type Target } from '../api';
import { dateTime } from '../format';
import { Alert, Loading, Section, useAction, useLoad } from '../ui';

const PRESETS = ['hourly', 'daily', 'weekly', 'monthly'];

function zones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const all = intl.supportedValuesOf?.('timeZone') ?? [];
  return all.includes('UTC') ? all : ['UTC', ...all];
}

/** The next runs, in the schedule's own zone. */
function Runs({ runs, timeZone, testId, empty = 'none (disabled)' }: { runs: string[]; timeZone: string; testId?: string; empty?: string }) {
  if (!runs.length) return <span className="muted">{empty}</span>;
  return (
    <ol className="runs" data-testid={testId}>
      {runs.map((r) => (
        <li key={r}>
          <time dateTime={r}>{dateTime(r, timeZone)}</time>
        </li>
      ))}
    </ol>
  );
}

function ScheduleForm({ targets, onSaved }: { targets: Target[]; onSaved: (s: Schedule) => void }) {
  const [name, setName] = useState('');
  const [target, setTarget] = useState(targets[0]?.name ?? '');
  const [mode, setMode] = useState<'preset' | 'cron'>('preset');
  const [preset, setPreset] = useState('daily');
  const [cron, setCron] = useState('30 3 * * *');
  const [timezone, setTimezone] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const [enabled, setEnabled] = useState(true);
  const [preview, setPreview] = useState<{ nextRuns: string[]; error?: string }>({ nextRuns: [] });
  const action = useAction();
  const allZones = useMemo(zones, []);

  useEffect(() => {
    const timer = setTimeout(() => {
      get<{ nextRuns: string[] }>(`/cron/next${qs(mode === 'preset' ? { preset, timezone } : { cron, timezone })}`).then(
        (r) => setPreview({ nextRuns: r.nextRuns }),
        (err: Error) => setPreview({ nextRuns: [], error: err.message }),
      );
    }, 250);
    return () => clearTimeout(timer);
  }, [mode, preset, cron, timezone]);

  return (
    <form
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(async () => {
          const s = await api<Schedule>('POST', '/schedules', { name, target, timezone, enabled, ...(mode === 'preset' ? { preset } : { cron }) });
          onSaved(s);
          setName('');
          return `Schedule ${s.name} saved`;
        });
      }}
    >
      <div className="row">
        <label>
          Name
          <input name="schedule-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
        </label>
        <label>
          Target
          <select value={target} onChange={(e) => setTarget(e.target.value)}>
            {targets.map((t) => (
              <option key={t.name}>{t.name}</option>
            ))}
          </select>
        </label>
        <label>
          Time zone
          <select name="timezone" value={timezone} onChange={(e) => setTimezone(e.target.value)}>
            {allZones.map((z) => (
              <option key={z}>{z}</option>
            ))}
          </select>
        </label>
      </div>
      <fieldset className="row">
        <legend>When</legend>
        <label className="radio">
          <input type="radio" name="mode" checked={mode === 'preset'} onChange={() => setMode('preset')} /> Preset
        </label>
        <label className="radio">
          <input type="radio" name="mode" checked={mode === 'cron'} onChange={() => setMode('cron')} /> Cron
        </label>
        {mode === 'preset' ? (
          <label>
            Preset
            <select value={preset} onChange={(e) => setPreset(e.target.value)}>
              {PRESETS.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </label>
        ) : (
          <label>
            Cron expression
            <input name="cron" value={cron} onChange={(e) => setCron(e.target.value)} className="mono" aria-describedby="cron-hint" />
            <small id="cron-hint">minute hour day month weekday, e.g. 30 3 * * 1-5</small>
          </label>
        )}
        <label className="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Enabled
        </label>
      </fieldset>
      <div aria-live="polite">
        <strong>Next 5 runs ({timezone})</strong>
        {preview.error ? <Alert>{preview.error}</Alert> : <Runs runs={preview.nextRuns} timeZone={timezone} testId="preview-runs" empty="…" />}
      </div>
      <Alert>{action.error}</Alert>
      <Alert kind="ok">{action.message}</Alert>
      <button type="submit" className="primary" disabled={action.busy}>
        Save schedule
      </button>
    </form>
  );
}

export function Schedules({ role }: { role: Role }) {
  const list = useLoad(() => get<Schedule[]>('/schedules'));
  const targets = useLoad(() => get<Target[]>('/targets'));
  const action = useAction();
  const toggle = (s: Schedule) =>
    void action.run(async () => {
      await api('POST', `/schedules/${s.id}/${s.enabled ? 'disable' : 'enable'}`);
      list.reload();
    });
  const remove = (s: Schedule) =>
    void action.run(async () => {
      await api('DELETE', `/schedules/${s.id}`);
      list.reload();
      return `Deleted ${s.name}`;
    });
  const runNow = (s: Schedule) => void action.run(async () => (await api('POST', `/schedules/${s.id}/run`), `${s.name}: backup queued`));
  return (
    <>
      <h1>Schedules</h1>
      {allows(role, 'operator') && targets.data?.length ? (
        <Section title="New schedule">
          <ScheduleForm targets={targets.data} onSaved={() => list.reload()} />
        </Section>
      ) : null}
      <Alert>{list.error ?? action.error}</Alert>
      <Alert kind="ok">{action.message}</Alert>
      {list.loading && !list.data ? <Loading what="schedules" /> : null}
      <div className="grid">
        {list.data?.map((s) => (
          <Section
            key={s.id}
            title={s.name}
            actions={
              allows(role, 'operator') ? (
                <>
                  <label className="switch">
                    <input type="checkbox" role="switch" checked={s.enabled} onChange={() => toggle(s)} aria-label={`${s.name} enabled`} /> Enabled
                  </label>
                  <button type="button" onClick={() => runNow(s)}>
                    Run now
                  </button>
                  {allows(role, 'admin') ? (
                    <button type="button" className="danger" onClick={() => remove(s)}>
                      Delete
                    </button>
                  ) : null}
                </>
              ) : (
                <span className="muted">{s.enabled ? 'enabled' : 'disabled'}</span>
              )
            }
          >
            <p>
              {s.target} · {s.type} · <span className="mono">{s.expression}</span>
              {s.preset ? ` (${s.preset})` : ''} · {s.timezone}
            </p>
            <Runs runs={s.nextRuns} timeZone={s.timezone} testId={`runs-${s.name}`} />
          </Section>
        ))}
      </div>
      {list.data && !list.data.length ? <p className="muted">No schedules yet.</p> : null}
    </>
  );
}
