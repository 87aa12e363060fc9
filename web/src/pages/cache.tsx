import { useState } from 'react';
import { api, get, type Page } from '../api';
import { dateTime, duration } from '../format';
import { Alert, Pager, Section, useAction, useLoad } from '../ui';

const KINDS = ['memory', 'database', 'redis', 'session', 'file', 'all'];

interface Clear {
  id: string;
  occurredAt?: string;
  actorId?: string;
  cacheType: string;
  itemsCleared: number;
  outcome: string;
  durationMs: number;
  results?: Array<Record<string, unknown>>;
}

export function Cache() {
  const [kind, setKind] = useState('memory');
  const [page, setPage] = useState(1);
  const history = useLoad(() => get<Page<Clear>>(`/cache/history?page=${page}&limit=20`), [page]);
  const action = useAction();
  return (
    <>
      <h1>Cache</h1>
      <Section title="Clear">
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void action.run(async () => {
              const r = await api<Clear>('DELETE', '/cache', { cacheType: kind });
              history.reload();
              return `Cleared ${r.itemsCleared} item(s) (${r.outcome})`;
            });
          }}
        >
          <label>
            What
            <select value={kind} onChange={(e) => setKind(e.target.value)}>
              {KINDS.map((k) => (
                <option key={k}>{k}</option>
              ))}
            </select>
          </label>
          <button type="submit" className="danger" disabled={action.busy}>
            Clear cache
          </button>
        </form>
        <Alert>{action.error}</Alert>
        <Alert kind="ok">{action.message}</Alert>
      </Section>
      <Section title="History">
        <Alert>{history.error}</Alert>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Items</th>
                <th scope="col">Outcome</th>
                <th scope="col">Took</th>
              </tr>
            </thead>
            <tbody>
              {history.data?.items.map((c) => (
                <tr key={c.id}>
                  <td>{dateTime(c.occurredAt)}</td>
                  <td>{c.actorId}</td>
                  <td>{c.cacheType}</td>
                  <td>{c.itemsCleared}</td>
                  <td>{c.outcome}</td>
                  <td>{duration(c.durationMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {history.data && !history.data.items.length ? <p className="muted">Never cleared.</p> : null}
          {history.data ? <Pager page={page} pages={history.data.pages} onPage={setPage} /> : null}
        </div>
      </Section>
    </>
  );
}
