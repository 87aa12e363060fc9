import { useState } from 'react';
import { allows, api, get, type Page, type Role } from '../api';
import { dateTime, relative } from '../format';
import { Alert, Loading, Section, useAction, useLoad } from '../ui';

interface Channel {
  id: string;
  name: string;
  kind: string;
  source: string;
  enabled: boolean;
  events: string[];
  defaultEvents: boolean;
  settings: Record<string, unknown>;
  secretsSet: string[];
}

interface EventInfo {
  event: string;
  byDefault: boolean;
  description: string;
}

interface Delivery {
  id: string;
  channelName: string;
  event: string;
  state: string;
  target: string | null;
  subject: string;
  status?: string;
  createdAt?: string;
  [k: string]: unknown;
}

interface Condition {
  key: string;
  active: boolean;
  lastAt: string;
  alertedAt: string | null;
  resolvedAt: string | null;
}

const KINDS = ['email', 'webhook', 'slack', 'discord', 'teams', 'telegram'];
/** The fields each kind takes (write-only ones are password inputs). */
const FIELDS: Record<string, Array<{ name: string; label: string; secret?: boolean; list?: boolean; number?: boolean }>> = {
  email: [
    { name: 'host', label: 'SMTP host' },
    { name: 'port', label: 'Port', number: true },
    { name: 'username', label: 'SMTP user' },
    { name: 'password', label: 'SMTP password', secret: true },
    { name: 'from', label: 'From' },
    { name: 'to', label: 'To (comma-separated)', list: true },
  ],
  webhook: [
    { name: 'url', label: 'URL', secret: true },
    { name: 'secret', label: 'Signing secret (16+ characters)', secret: true },
  ],
  slack: [{ name: 'url', label: 'Incoming webhook URL', secret: true }],
  discord: [{ name: 'url', label: 'Webhook URL', secret: true }],
  teams: [{ name: 'url', label: 'Workflow URL', secret: true }],
  telegram: [
    { name: 'botToken', label: 'Bot token', secret: true },
    { name: 'chatId', label: 'Chat id' },
  ],
};

function NewChannel({ events, onSaved }: { events: EventInfo[]; onSaved: () => void }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState('slack');
  const [values, setValues] = useState<Record<string, string>>({});
  const [chosen, setChosen] = useState<string[]>([]);
  const action = useAction();
  return (
    <form
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(async () => {
          const body: Record<string, unknown> = { name, kind };
          for (const f of FIELDS[kind]) {
            const v = values[f.name]?.trim();
            if (!v) continue;
            body[f.name] = f.list ? v.split(',').map((s) => s.trim()).filter(Boolean) : f.number ? Number(v) : v;
          }
          if (chosen.length) body.events = chosen;
          await api('POST', '/notifications/channels', body);
          setName('');
          setValues({});
          onSaved();
          return `Channel ${name} created`;
        });
      }}
    >
      <div className="row">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={64} />
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value)}>
            {KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        {FIELDS[kind].map((f) => (
          <label key={f.name}>
            {f.label}
            <input type={f.secret ? 'password' : f.number ? 'number' : 'text'} autoComplete="off" value={values[f.name] ?? ''} onChange={(e) => setValues({ ...values, [f.name]: e.target.value })} />
          </label>
        ))}
      </div>
      <fieldset>
        <legend>Events (none chosen: the defaults)</legend>
        {events.map((ev) => (
          <label key={ev.event} className="check" title={ev.description}>
            <input type="checkbox" checked={chosen.includes(ev.event)} onChange={(e) => setChosen(e.target.checked ? [...chosen, ev.event] : chosen.filter((c) => c !== ev.event))} /> {ev.event}
            {ev.byDefault ? ' (default)' : ''}
          </label>
        ))}
      </fieldset>
      <Alert>{action.error}</Alert>
      <Alert kind="ok">{action.message}</Alert>
      <button type="submit" className="primary" disabled={action.busy}>
        Create channel
      </button>
    </form>
  );
}

export function Notifications({ role }: { role: Role }) {
  const admin = allows(role, 'admin');
  const channels = useLoad(() => (admin ? get<Channel[]>('/notifications/channels') : Promise.resolve([] as Channel[])), [admin]);
  const events = useLoad(() => get<EventInfo[]>('/notifications/events'));
  const deliveries = useLoad(() => get<Page<Delivery>>('/notifications/deliveries?limit=20'));
  const alerts = useLoad(() => get<Condition[] | Page<Condition>>('/notifications/alerts'));
  const action = useAction();
  const alertList = alerts.data ? (Array.isArray(alerts.data) ? alerts.data : alerts.data.items) : [];
  return (
    <>
      <h1>Notifications</h1>
      <Alert>{action.error}</Alert>
      <Alert kind="ok">{action.message}</Alert>
      {admin ? (
        <>
          <Section title="Channels">
            <Alert>{channels.error}</Alert>
            {!channels.data ? <Loading what="channels" /> : null}
            {channels.data && !channels.data.length ? <p className="muted">No channels yet.</p> : null}
            <ul className="channels">
              {channels.data?.map((c) => (
                <li key={c.id} className="card">
                  <div className="card-head">
                    <h3>
                      {c.name} <span className="muted">({c.kind}{c.source === 'config' ? ', configured' : ''})</span>
                    </h3>
                    <div className="actions">
                      {c.source !== 'config' ? (
                        <label className="switch">
                          <input
                            type="checkbox"
                            role="switch"
                            checked={c.enabled}
                            aria-label={`${c.name} enabled`}
                            onChange={() => void action.run(async () => (await api('PATCH', `/notifications/channels/${c.id}`, { enabled: !c.enabled }), channels.reload()))}
                          />{' '}
                          Enabled
                        </label>
                      ) : null}
                      <button
                        type="button"
                        onClick={() =>
                          void action.run(async () => {
                            const r = await api<{ delivered: boolean; answer: string; statusCode?: number }>('POST', `/notifications/channels/${c.id}/test`);
                            deliveries.reload();
                            if (!r.delivered) throw new Error(`Test to ${c.name} failed: ${r.answer}`);
                            return `Test to ${c.name} delivered (${r.statusCode ?? 'ok'})`;
                          })
                        }
                      >
                        Send test
                      </button>
                      {c.source !== 'config' ? (
                        <button type="button" className="danger" onClick={() => void action.run(async () => (await api('DELETE', `/notifications/channels/${c.id}`), channels.reload(), `Deleted ${c.name}`))}>
                          Delete
                        </button>
                      ) : null}
                    </div>
                  </div>
                  <p>
                    Events: {c.defaultEvents ? 'the defaults' : c.events.join(', ')}
                    {c.secretsSet.length ? ` · secrets set: ${c.secretsSet.join(', ')}` : ''}
                  </p>
                  <p className="muted mono">{Object.entries(c.settings).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`).join('  ')}</p>
                </li>
              ))}
            </ul>
          </Section>
          {events.data ? (
            <Section title="New channel">
              <NewChannel events={events.data} onSaved={() => channels.reload()} />
            </Section>
          ) : null}
        </>
      ) : (
        <p className="muted">Channels are managed by admins.</p>
      )}
      <Section title="Alert conditions">
        <Alert>{alerts.error}</Alert>
        <ul>
          {alertList.map((a) => (
            <li key={a.key}>
              <strong className={a.active ? 'bad' : 'ok'}>{a.active ? 'active' : 'resolved'}</strong> <span className="mono">{a.key}</span> · last {relative(a.lastAt)}
            </li>
          ))}
        </ul>
        {alerts.data && !alertList.length ? <p className="muted">Nothing has alerted.</p> : null}
      </Section>
      <Section title="Recent deliveries">
        <Alert>{deliveries.error}</Alert>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Channel</th>
                <th scope="col">Event</th>
                <th scope="col">Subject</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.data?.items.map((d) => (
                <tr key={d.id}>
                  <td>{dateTime(d.createdAt)}</td>
                  <td>{d.channelName}</td>
                  <td>
                    {d.event} ({d.state})
                  </td>
                  <td>{d.subject}</td>
                  <td>{String(d.status ?? '—')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {deliveries.data && !deliveries.data.items.length ? <p className="muted">Nothing sent yet.</p> : null}
        </div>
      </Section>
    </>
  );
}
