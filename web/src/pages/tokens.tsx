import { useState } from 'react';
import { allows, api, get, type Role } from '../api';
import { dateTime, relative } from '../format';
import { Alert, Section, useAction, useLoad } from '../ui';

interface Token {
  id: string;
  name: string;
  owner: string;
  prefix: string;
  role: Role;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  token?: string;
}

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

export function Tokens({ role }: { role: Role }) {
  const list = useLoad(() => get<Token[]>('/auth/tokens'));
  const [name, setName] = useState('');
  const [tokenRole, setTokenRole] = useState<Role>('viewer');
  const [days, setDays] = useState('90');
  const [created, setCreated] = useState<Token>();
  const action = useAction();
  return (
    <>
      <h1>API tokens</h1>
      <Section title="New token">
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void action.run(async () => {
              const t = await api<Token>('POST', '/auth/tokens', { name, role: tokenRole, ...(days ? { expiresInDays: Number(days) } : {}) });
              setCreated(t);
              setName('');
              list.reload();
            });
          }}
        >
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={64} />
          </label>
          <label>
            Role
            <select value={tokenRole} onChange={(e) => setTokenRole(e.target.value as Role)}>
              {ROLES.filter((r) => allows(role, r)).map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </label>
          <label>
            Expires in (days, empty: never)
            <input type="number" min={1} max={3650} value={days} onChange={(e) => setDays(e.target.value)} />
          </label>
          <button type="submit" className="primary" disabled={action.busy}>
            Create token
          </button>
        </form>
        <Alert>{action.error}</Alert>
        {created?.token ? (
          <div className="alert alert-ok" role="status">
            <p>
              Token <strong>{created.name}</strong> — copy it now, it is not shown again:
            </p>
            <input className="mono token" readOnly value={created.token} aria-label="The new token" onFocus={(e) => e.target.select()} />
            <button type="button" onClick={() => setCreated(undefined)}>
              Done
            </button>
          </div>
        ) : null}
      </Section>
      <Section title="Your tokens">
        <Alert>{list.error}</Alert>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Starts with</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data?.map((t) => (
                <tr key={t.id} className={t.revokedAt ? 'row-muted' : undefined}>
                  <td>{t.name}</td>
                  <td className="mono">{t.prefix}…</td>
                  <td>{t.role}</td>
                  <td>{dateTime(t.createdAt)}</td>
                  <td>{t.expiresAt ? dateTime(t.expiresAt) : 'never'}</td>
                  <td>{relative(t.lastUsedAt)}</td>
                  <td>
                    {t.revokedAt ? (
                      'revoked'
                    ) : (
                      <button type="button" className="danger" onClick={() => void action.run(async () => (await api('DELETE', `/auth/tokens/${t.id}`), list.reload(), `Revoked ${t.name}`))}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.data && !list.data.length ? <p className="muted">No tokens yet.</p> : null}
        </div>
      </Section>
    </>
  );
}
