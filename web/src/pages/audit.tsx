import { useState } from 'react';
import { get, qs, type Page } from '../api';
import { dateTime } from '../format';
import { Alert, Loading, Pager, useLoad } from '../ui';

interface AuditEvent {
  id: string;
  occurredAt: string;
  actorId: string;
  actorRole: string | null;
  action: string;
  resourceType: string | null;
  resource: string | null;
  outcome: string;
  severity: string;
  clientIp: string | null;
  metadata: Record<string, unknown> | null;
}

export function Audit() {
  const [draft, setDraft] = useState({ action: '', actor: '', outcome: '', severity: '' });
  const [filters, setFilters] = useState(draft);
  const [page, setPage] = useState(1);
  const list = useLoad(() => get<Page<AuditEvent>>(`/audit${qs({ ...filters, page, limit: 25 })}`), [filters, page]);
  const field = (k: keyof typeof draft) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });
  return (
    <>
      <h1>Audit log</h1>
      <form
        className="filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
          setPage(1);
        }}
      >
        <label>
          Action
          <input value={draft.action} onChange={field('action')} placeholder="account.login" />
        </label>
        <label>
          Actor
          <input value={draft.actor} onChange={field('actor')} />
        </label>
        <label>
          Outcome
          <select value={draft.outcome} onChange={field('outcome')}>
            <option value="">any</option>
            <option>success</option>
            <option>failure</option>
          </select>
        </label>
        <label>
          Severity
          <select value={draft.severity} onChange={field('severity')}>
            <option value="">any</option>
            <option>info</option>
            <option>warning</option>
            <option>error</option>
            <option>critical</option>
          </select>
        </label>
        <button type="submit">Apply</button>
      </form>
      <Alert>{list.error}</Alert>
      {list.loading && !list.data ? <Loading what="the audit log" /> : null}
      {list.data ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Resource</th>
                <th scope="col">Outcome</th>
                <th scope="col">Client</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((e) => (
                <tr key={e.id} className={e.outcome === 'failure' ? 'row-bad' : undefined}>
                  <td>{dateTime(e.occurredAt)}</td>
                  <td>
                    {e.actorId}
                    {e.actorRole ? ` (${e.actorRole})` : ''}
                  </td>
                  <td className="mono">{e.action}</td>
                  <td>{e.resource ? `${e.resourceType ?? ''} ${e.resource.slice(0, 12)}` : '—'}</td>
                  <td>
                    {e.outcome} / {e.severity}
                  </td>
                  <td>{e.clientIp ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {!list.data.items.length ? <p className="muted">Nothing matches.</p> : null}
          <Pager page={page} pages={list.data.pages} onPage={setPage} />
        </div>
      ) : null}
    </>
  );
}
