import { useState } from 'react';
import { allows, api, API, get, qs, ACTIVE, type Backup, type Page, type Progress, type Role, type Target } from '../api';
import { bytes, dateTime, duration, relative, short } from '../format';
import { useLive } from '../live';
import { Alert, BackupStatusChip, Loading, Pager, Section, useAction, useLoad } from '../ui';

const STATUSES = ['QUEUED', 'RUNNING', 'COMPLETED', 'VERIFIED', 'CORRUPTED', 'FAILED', 'CANCELLED'];
const TYPES = ['manual', 'daily', 'weekly', 'monthly'];
const LIMIT = 20;

/** Bytes, rate and ETA of a running backup. */
export function ProgressLine({ p }: { p: Progress | null | undefined }) {
  if (!p) return <span className="muted">starting…</span>;
  return (
    <span className="progress" data-testid="progress">
      {p.percent !== null ? <progress max={100} value={p.percent} aria-label="Share dumped" /> : null} {bytes(p.rawBytes)} dumped · {bytes(p.artifactBytes)} written · {bytes(p.bytesPerSecond)}/s
      {p.etaSeconds !== null ? ` · ETA ${duration(p.etaSeconds * 1000)}` : ''}
    </span>
  );
}

function NewBackup({ targets, onCreated }: { targets: Target[]; onCreated: (b: Backup) => void }) {
  const [target, setTarget] = useState(targets[0]?.name ?? '');
  const action = useAction();
  if (!targets.length) return null;
  return (
    <form
      className="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(async () => {
          const b = await api<Backup>('POST', '/backups', { target });
          onCreated(b);
          return `Backup ${short(b.id)} of ${b.target} queued`;
        });
      }}
    >
      <label>
        Target
        <select value={target} onChange={(e) => setTarget(e.target.value)}>
          {targets.map((t) => (
            <option key={t.name}>{t.name}</option>
          ))}
        </select>
      </label>
      <button type="submit" className="primary" disabled={action.busy}>
        Start backup
      </button>
      <Alert>{action.error}</Alert>
      <Alert kind="ok">{action.message}</Alert>
    </form>
  );
}

export function Backups({ role }: { role: Role }) {
  const [filters, setFilters] = useState({ target: '', status: '', type: '' });
  const [page, setPage] = useState(1);
  const targets = useLoad(() => get<Target[]>('/targets'));
  const list = useLoad(() => get<Page<Backup>>(`/backups${qs({ ...filters, page, limit: LIMIT })}`), [filters.target, filters.status, filters.type, page]);
  const [progress, setProgress] = useState<Record<string, Progress | null>>({});
  useLive((m) => {
    if (m.kind === 'progress') {
      setProgress((p) => ({ ...p, [m.id]: m.progress }));
      const row = list.data?.items.find((b) => b.id === m.id);
      if (list.data && row && row.status === 'QUEUED') list.set({ ...list.data, items: list.data.items.map((b) => (b.id === m.id ? { ...b, status: m.status } : b)) });
    } else if (m.kind === 'backup' && list.data) {
      const i = list.data.items.findIndex((b) => b.id === m.backup.id);
      if (i >= 0) {
        const items = [...list.data.items];
        items[i] = { ...items[i], ...m.backup };
        list.set({ ...list.data, items });
      } else if (m.event === 'backup.requested') list.reload();
    }
  });
  const set = (k: keyof typeof filters) => (e: { target: { value: string } }) => {
    setFilters({ ...filters, [k]: e.target.value });
    setPage(1);
  };
  return (
    <>
      <h1>Backups</h1>
      {allows(role, 'operator') && targets.data ? <NewBackup targets={targets.data} onCreated={() => list.reload()} /> : null}
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Target
          <select value={filters.target} onChange={set('target')}>
            <option value="">all</option>
            {targets.data?.map((t) => (
              <option key={t.name}>{t.name}</option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={filters.status} onChange={set('status')}>
            <option value="">all</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select value={filters.type} onChange={set('type')}>
            <option value="">all</option>
            {TYPES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      </form>
      <Alert>{list.error}</Alert>
      {list.loading && !list.data ? <Loading what="backups" /> : null}
      {list.data ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Backups, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Backup</th>
                <th scope="col">Target</th>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col">Size</th>
                <th scope="col">Duration</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((b) => (
                <tr key={b.id} data-backup-id={b.id}>
                  <td>
                    <a href={`#/backups/${b.id}`}>{short(b.id)}</a>
                    {b.pinned ? <span className="pin" title="Pinned: retention keeps it"> 📌</span> : null}
                  </td>
                  <td>{b.target}</td>
                  <td>{b.type}</td>
                  <td>
                    <BackupStatusChip b={b} />
                    {b.status === 'RUNNING' ? (
                      <>
                        {' '}
                        <ProgressLine p={progress[b.id] ?? (b.metadata?.progress as Progress | undefined)} />
                      </>
                    ) : null}
                  </td>
                  <td>{bytes(b.sizeBytes)}</td>
                  <td>{duration(b.durationMs)}</td>
                  <td title={dateTime(b.createdAt)}>{relative(b.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {!list.data.items.length ? <p className="muted">No backups match.</p> : null}
          <Pager page={page} pages={list.data.pages} onPage={setPage} />
        </div>
      ) : null}
    </>
  );
}

export function BackupDetail({ id, role }: { id: string; role: Role }) {
  const { data: b, error, set, reload } = useLoad(() => get<Backup>(`/backups/${id}`), [id]);
  const [progress, setProgress] = useState<Progress | null>();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const action = useAction();
  useLive((m) => {
    if (m.kind === 'progress' && m.id === id) setProgress(m.progress);
    if (m.kind === 'backup' && m.backup.id === id && b) set({ ...b, ...m.backup });
  });
  if (error) return <Alert>{error}</Alert>;
  if (!b) return <Loading what="the backup" />;
  const done = !ACTIVE.has(b.status) && !b.deletedAt;
  const act = (fn: () => Promise<string>) => void action.run(async () => {
    const m = await fn();
    reload();
    return m;
  });
  return (
    <>
      <p>
        <a href="#/backups">← Backups</a>
      </p>
      <h1>
        Backup {short(b.id)} of {b.target} <BackupStatusChip b={b} />
      </h1>
      {b.degraded ? (
        <Alert kind="info">
          Degraded: {(b.failedDestinations ?? []).join(', ')} {(b.failedDestinations ?? []).length > 1 ? 'lack their copies' : 'lacks its copy'} (see Destinations). The backup restores from
          its other copies; a re-copy job repairs the rest.
        </Alert>
      ) : null}
      {b.status === 'RUNNING' ? <ProgressLine p={progress ?? (b.metadata?.progress as Progress | undefined)} /> : null}
      <div className="actions wrap" role="group" aria-label="Actions">
        {done && b.fileKey ? (
          <a className="button" href={`${API}/backups/${b.id}/download`} download>
            Download
          </a>
        ) : null}
        {allows(role, 'operator') && done ? (
          <>
            <button type="button" disabled={action.busy} onClick={() => act(async () => (await api('POST', `/backups/${b.id}/verify`, {}), 'Verification queued'))}>
              Verify
            </button>
            <button type="button" disabled={action.busy} onClick={() => act(async () => (await api('POST', `/backups/${b.id}/verify`, { drill: true }), 'Restore drill queued'))}>
              Drill
            </button>
            <button type="button" disabled={action.busy} onClick={() => act(async () => (await api('POST', `/backups/${b.id}/${b.pinned ? 'unpin' : 'pin'}`), b.pinned ? 'Unpinned' : 'Pinned'))}>
              {b.pinned ? 'Unpin' : 'Pin'}
            </button>
          </>
        ) : null}
        {allows(role, 'admin') && done ? (
          <>
            <a className="button" href={`#/restore/${b.id}`}>
              Restore…
            </a>
            <button type="button" className="danger" onClick={() => setConfirmDelete(true)} disabled={b.pinned} title={b.pinned ? 'Unpin it first' : undefined}>
              Delete…
            </button>
          </>
        ) : null}
      </div>
      {confirmDelete ? (
        <div className="confirm" role="alertdialog" aria-label="Delete this backup?">
          <p>Delete backup {short(b.id)}? Its record is kept as deleted; “Delete with file” also removes the artifact.</p>
          <button type="button" className="danger" onClick={() => (setConfirmDelete(false), act(async () => (await api('DELETE', `/backups/${b.id}`), 'Deleted')))}>
            Delete
          </button>
          <button type="button" className="danger" onClick={() => (setConfirmDelete(false), act(async () => (await api('DELETE', `/backups/${b.id}${qs({ hard: true })}`), 'Deleted with its file')))}>
            Delete with file
          </button>
          <button type="button" onClick={() => setConfirmDelete(false)} autoFocus>
            Cancel
          </button>
        </div>
      ) : null}
      <Alert>{action.error}</Alert>
      <Alert kind="ok">{action.message}</Alert>
      <Section title="Details">
        <dl className="facts">
          <dt>Target</dt>
          <dd>
            {b.target} ({b.engine})
          </dd>
          <dt>Type / scope</dt>
          <dd>
            {b.type} / {String(b.scope ?? 'full')}
          </dd>
          <dt>Format / compression</dt>
          <dd>
            {String(b.format ?? '—')} / {String(b.compression ?? '—')}
            {b.encrypted ? ' / encrypted' : ''}
          </dd>
          <dt>Size</dt>
          <dd>{bytes(b.sizeBytes)}</dd>
          <dt>Duration</dt>
          <dd>{duration(b.durationMs)}</dd>
          <dt>Created</dt>
          <dd>{dateTime(b.createdAt)}</dd>
          <dt>Completed</dt>
          <dd>{dateTime(b.completedAt)}</dd>
          <dt>Verified</dt>
          <dd>{dateTime(b.verifiedAt)}</dd>
          <dt>SHA-256</dt>
          <dd className="mono" data-testid="checksum">
            {b.checksum ?? '—'}
          </dd>
          <dt>Artifact</dt>
          <dd className="mono">
            {b.fileKey ?? '—'} {b.fileExists === false ? <strong className="warn">(missing from storage)</strong> : null}
          </dd>
          <dt>Requested by</dt>
          <dd>{b.triggeredBy}</dd>
          {b.errorMessage ? (
            <>
              <dt>Error</dt>
              <dd className="bad">{b.errorMessage}</dd>
            </>
          ) : null}
        </dl>
      </Section>
      {b.destinations?.length ? (
        <Section title="Destinations">
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Destination</th>
                  <th scope="col">State</th>
                  <th scope="col">Size</th>
                  <th scope="col">SHA-256</th>
                  <th scope="col">Verified</th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {b.destinations.map((d) => {
                  const text = (v: unknown) => (typeof v === 'string' ? v : null);
                  const checksum = text(d.checksum);
                  return (
                    <tr key={String(d.storage)} className={d.state === 'FAILED' || d.state === 'CORRUPTED' || d.state === 'MISSING' ? 'row-bad' : undefined} title={text(d.fileKey) ?? undefined}>
                      <td>{String(d.storage)}</td>
                      <td>{String(d.state)}</td>
                      <td>{typeof d.sizeBytes === 'number' ? bytes(d.sizeBytes) : '—'}</td>
                      <td title={checksum ?? undefined}>{checksum ? short(checksum) : '—'}</td>
                      <td>{dateTime(text(d.verifiedAt))}</td>
                      <td className="wrap-text">{text(d.errorMessage) ?? '—'}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </Section>
      ) : null}
      <Section title="Manifest and metadata">
        <pre className="json">{JSON.stringify(b.metadata ?? {}, null, 2)}</pre>
      </Section>
    </>
  );
}
