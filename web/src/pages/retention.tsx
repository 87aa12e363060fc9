import { useState } from 'react';
import { allows, api, get, type Role } from '../api';
import { bytes, dateTime, short } from '../format';
import { Alert, Loading, Section, useAction, useLoad } from '../ui';

interface Policies {
  defaultPolicy: string;
  timezone: string;
  cleanupCron: string | null;
  policies: Array<{ name: string; kind: string; description?: string; [k: string]: unknown }>;
}

interface Cleanup {
  dryRun: boolean;
  deleted: Array<{ id: string; target: string; type: string; status: string; createdAt: string; sizeBytes: number | null; policy: string; reasons: string[] }>;
  skipped: Array<{ id: string; reason: string }>;
  kept: number;
  freedBytes: number;
}

export function Retention({ role }: { role: Role }) {
  const policies = useLoad(() => get<Policies>('/retention/policies'));
  const [result, setResult] = useState<Cleanup>();
  const [confirm, setConfirm] = useState(false);
  const action = useAction();
  const cleanup = (dryRun: boolean) =>
    void action.run(async () => {
      setResult(await api<Cleanup>('POST', '/retention/cleanup', { dryRun }));
    });
  return (
    <>
      <h1>Retention</h1>
      <Alert>{policies.error}</Alert>
      {!policies.data ? <Loading what="policies" /> : null}
      {policies.data ? (
        <Section title="Policies">
          <p>
            Default policy <strong>{policies.data.defaultPolicy}</strong>; tiers count days in {policies.data.timezone}; cleanup runs{' '}
            {policies.data.cleanupCron ? <span className="mono">{policies.data.cleanupCron}</span> : 'only when asked'}. Pinned backups and the newest good full backup of each target are always kept.
          </p>
          <ul className="policies">
            {policies.data.policies.map((p) => (
              <li key={p.name}>
                <strong>{p.name}</strong> ({p.kind}) — {p.description ?? JSON.stringify(p)}
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
      {allows(role, 'admin') ? (
        <Section
          title="Cleanup"
          actions={
            <>
              <button type="button" onClick={() => cleanup(true)} disabled={action.busy}>
                Preview (dry run)
              </button>
              <button type="button" className="danger" onClick={() => setConfirm(true)} disabled={action.busy}>
                Clean up now…
              </button>
            </>
          }
        >
          {confirm ? (
            <div className="confirm" role="alertdialog" aria-label="Run the cleanup?">
              <p>Delete every backup the policies no longer keep, now?</p>
              <button type="button" className="danger" onClick={() => (setConfirm(false), cleanup(false))}>
                Delete them
              </button>
              <button type="button" onClick={() => setConfirm(false)} autoFocus>
                Cancel
              </button>
            </div>
          ) : null}
          <Alert>{action.error}</Alert>
          {result ? (
            <>
              <p role="status">
                {result.dryRun ? 'The next cleanup would delete' : 'Deleted'} {result.deleted.length} backup(s), {bytes(result.freedBytes)}; {result.kept} kept
                {result.skipped.length ? `, ${result.skipped.length} skipped` : ''}.
              </p>
              {result.deleted.length ? (
                <div className="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Backup</th>
                        <th scope="col">Target</th>
                        <th scope="col">Created</th>
                        <th scope="col">Size</th>
                        <th scope="col">Policy</th>
                        <th scope="col">Why</th>
                      </tr>
                    </thead>
                    <tbody>
                      {result.deleted.map((d) => (
                        <tr key={d.id}>
                          <td>
                            <a href={`#/backups/${d.id}`}>{short(d.id)}</a>
                          </td>
                          <td>{d.target}</td>
                          <td>{dateTime(d.createdAt)}</td>
                          <td>{bytes(d.sizeBytes)}</td>
                          <td>{d.policy}</td>
                          <td>{d.reasons.join('; ')}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              ) : null}
            </>
          ) : (
            <p className="muted">Preview what the next cleanup would delete; nothing changes.</p>
          )}
        </Section>
      ) : null}
    </>
  );
}
