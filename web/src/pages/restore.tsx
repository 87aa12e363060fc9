import { useEffect, useState } from 'react';
import { allows, api, get, type Backup, type RestoreRun, type Role, type Target } from '../api';
import { bytes, dateTime, duration, short } from '../format';
import { useLive } from '../live';
import { Alert, BackupStatusChip, Loading, Section, StatusChip, useAction, useLoad } from '../ui';

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** Restore a backup: what will be replaced, a safety backup (on by default), the database name typed to confirm, live progress, the result. */
export function RestoreWizard({ id, role }: { id: string; role: Role }) {
  const data = useLoad(async () => {
    const backup = await get<Backup>(`/backups/${id}`);
    const targets = await get<Target[]>('/targets');
    return { backup, target: targets.find((t) => t.name === backup.target) };
  }, [id]);
  const [into, setInto] = useState<'own' | 'other'>('own');
  const [other, setOther] = useState('');
  const [safety, setSafety] = useState(true);
  const [typed, setTyped] = useState('');
  const [run, setRun] = useState<RestoreRun>();
  const action = useAction();

  useLive((m) => {
    if (m.kind === 'restore' && run && m.restore.id === run.id) setRun({ ...run, ...m.restore });
  });
  useEffect(() => {
    if (!run || ENDED.has(run.status)) return;
    const timer = setInterval(() => void get<RestoreRun>(`/restores/${run.id}`).then(setRun, () => undefined), 2000);
    return () => clearInterval(timer);
  }, [run]);

  if (!allows(role, 'admin')) return <Alert>Restoring needs the admin role.</Alert>;
  if (data.error) return <Alert>{data.error}</Alert>;
  if (!data.data) return <Loading what="the backup" />;
  const { backup: b, target } = data.data;
  const destination = into === 'own' ? (target?.database ?? '') : other.trim();
  const confirmed = destination !== '' && typed === destination;

  if (run) {
    return (
      <>
        <h1>Restore of backup {short(b.id)}</h1>
        <Section title="Progress">
          <p aria-live="polite" data-testid="restore-status">
            <StatusChip status={run.status} /> into <strong>{run.database}</strong> on {target?.host}
            {run.safetyBackup ? ' · safety backup first' : ''}
          </p>
          {!ENDED.has(run.status) ? <progress aria-label="Restore running" /> : null}
          {run.status === 'COMPLETED' ? (
            <Alert kind="ok">
              Restored in {duration(run.durationMs)}.{' '}
              {run.safetyBackupId ? (
                <>
                  The database as it was is kept as backup <a href={`#/backups/${run.safetyBackupId}`}>{short(run.safetyBackupId)}</a>.
                </>
              ) : null}
            </Alert>
          ) : null}
          {run.status === 'FAILED' || run.status === 'CANCELLED' ? <Alert>{run.errorMessage ?? 'The restore did not complete.'}</Alert> : null}
        </Section>
        <p>
          <a href={`#/backups/${b.id}`}>← Back to the backup</a>
        </p>
      </>
    );
  }

  return (
    <>
      <p>
        <a href={`#/backups/${b.id}`}>← Backup {short(b.id)}</a>
      </p>
      <h1>Restore backup {short(b.id)}</h1>
      <Section title="1. What will be replaced">
        <dl className="facts">
          <dt>Backup</dt>
          <dd>
            {b.target} · {b.type} · {dateTime(b.completedAt ?? b.createdAt)} · {bytes(b.sizeBytes)} <BackupStatusChip b={b} />
          </dd>
          <dt>Server</dt>
          <dd>
            {target ? `${target.engine} at ${target.host}:${target.port}` : `target ${b.target} is not configured`}
          </dd>
        </dl>
        <fieldset>
          <legend>Restore into</legend>
          <label className="radio">
            <input type="radio" name="into" checked={into === 'own'} onChange={() => setInto('own')} /> the target’s own database <strong>{target?.database}</strong> — its current contents are replaced
          </label>
          <label className="radio">
            <input type="radio" name="into" checked={into === 'other'} onChange={() => setInto('other')} /> another database (a new one is created; an existing one must be allowed for this target)
          </label>
          {into === 'other' ? (
            <label>
              Database name
              <input value={other} onChange={(e) => setOther(e.target.value)} pattern="[A-Za-z0-9_]{1,63}" />
            </label>
          ) : null}
        </fieldset>
        <label className="check">
          <input type="checkbox" checked={safety} onChange={(e) => setSafety(e.target.checked)} /> Take a safety backup of <strong>{destination || 'the destination'}</strong> first, and restore only if it succeeds
        </label>
        {!safety ? <Alert kind="info">Without a safety backup, what the database holds now cannot be brought back.</Alert> : null}
      </Section>
      <Section title="2. Confirm">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (!confirmed) return;
            void action.run(async () => {
              const r = await api<RestoreRun>('POST', `/backups/${b.id}/restore`, { confirm: true, safetyBackup: safety, ...(into === 'other' ? { targetDatabase: destination } : {}) });
              setRun(r);
            });
          }}
        >
          <label>
            <span>
              Type the database name <strong className="mono">{destination || '…'}</strong> to confirm
            </span>
            <input name="confirm-database" value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" spellCheck={false} aria-describedby="confirm-hint" />
          </label>
          <p id="confirm-hint" className="muted">
            {confirmed ? 'Ready.' : 'The restore button stays off until the name matches exactly.'}
          </p>
          <Alert>{action.error}</Alert>
          <button type="submit" className="danger" disabled={!confirmed || action.busy}>
            Restore {destination || ''}
          </button>
        </form>
      </Section>
    </>
  );
}
