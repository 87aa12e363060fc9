import { Component, StrictMode, useCallback, useEffect, useState, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { allows, api, ApiError, get, whenUnauthorized, type Me, type Role } from './api';
import { Alert, useAction } from './ui';
import { Overview } from './pages/overview';
import { Backups, BackupDetail } from './pages/backups';
import { RestoreWizard } from './pages/restore';
import { Schedules } from './pages/schedules';
import { Retention } from './pages/retention';
import { Audit } from './pages/audit';
import { System } from './pages/system';
import { Cache } from './pages/cache';
import { Tokens } from './pages/tokens';
import { Notifications } from './pages/notifications';
import './styles.css';

interface NavItem {
  path: string;
  label: string;
  role: Role;
}

const NAV: NavItem[] = [
  { path: 'overview', label: 'Overview', role: 'viewer' },
  { path: 'backups', label: 'Backups', role: 'viewer' },
  { path: 'schedules', label: 'Schedules', role: 'viewer' },
  { path: 'retention', label: 'Retention', role: 'viewer' },
  { path: 'audit', label: 'Audit log', role: 'admin' },
  { path: 'system', label: 'System', role: 'viewer' },
  { path: 'cache', label: 'Cache', role: 'admin' },
  { path: 'notifications', label: 'Notifications', role: 'operator' },
  { path: 'tokens', label: 'API tokens', role: 'viewer' },
];

/** The hash route: `#/backups/<id>` → ['backups', '<id>']. */
function useRoute(): string[] {
  const read = () => window.location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** A page that fails to render says so instead of leaving the screen blank. */
class Boundary extends Component<{ children: ReactNode; page: string }, { error?: Error }> {
  state: { error?: Error } = {};
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  componentDidUpdate(prev: { page: string }) {
    if (prev.page !== this.props.page && this.state.error) this.setState({ error: undefined });
  }
  render() {
    return this.state.error ? <Alert>{`This page failed: ${this.state.error.message}`}</Alert> : this.props.children;
  }
}

function Login({ onLogin }: { onLogin: (me: Me) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();
  return (
    <main className="login">
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => {
            const r = await api<{ user: { username: string; role: Role } }>('POST', '/auth/login', { username, password });
            setPassword('');
            onLogin({ username: r.user.username, role: r.user.role, authKind: 'session' });
          });
        }}
      >
        <h1>backup-manager</h1>
        <label>
          Username
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        <Alert>{action.error}</Alert>
        <button type="submit" className="primary" disabled={action.busy}>
          {action.busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [checkError, setCheckError] = useState<string>();
  const route = useRoute();
  const check = useCallback(() => {
    get<Me>('/auth/me').then(setMe, (err: unknown) => {
      if (err instanceof ApiError && err.status === 401) setMe(null);
      else setCheckError(err instanceof Error ? err.message : String(err));
    });
  }, []);
  useEffect(() => {
    whenUnauthorized(() => setMe(null));
    check();
  }, [check]);

  if (checkError) return <Alert>{`The service does not answer: ${checkError}`}</Alert>;
  if (me === undefined) return <p className="muted">Loading…</p>;
  if (me === null) return <Login onLogin={setMe} />;

  const [page = 'overview', ...rest] = route;
  const items = NAV.filter((n) => allows(me.role, n.role));
  const logout = async () => {
    await api('POST', '/auth/logout').catch(() => undefined);
    setMe(null);
    window.location.hash = '';
  };
  let body;
  switch (page) {
    case 'backups':
      body = rest[0] ? <BackupDetail id={rest[0]} role={me.role} /> : <Backups role={me.role} />;
      break;
    case 'restore':
      body = <RestoreWizard id={rest[0] ?? ''} role={me.role} />;
      break;
    case 'schedules':
      body = <Schedules role={me.role} />;
      break;
    case 'retention':
      body = <Retention role={me.role} />;
      break;
    case 'audit':
      body = <Audit />;
      break;
    case 'system':
      body = <System />;
      break;
    case 'cache':
      body = <Cache />;
      break;
    case 'notifications':
      body = <Notifications role={me.role} />;
      break;
    case 'tokens':
      body = <Tokens role={me.role} />;
      break;
    default:
      body = <Overview role={me.role} />;
  }
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">backup-manager</span>
        <nav aria-label="Main">
          <ul>
            {items.map((n) => (
              <li key={n.path}>
                <a href={`#/${n.path}`} aria-current={page === n.path || (page === 'restore' && n.path === 'backups') ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span className="who">
          <span data-testid="whoami">
            {me.username} ({me.role})
          </span>
          <button type="button" onClick={() => void logout()}>
            Log out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Boundary page={route.join('/')}>{body}</Boundary>
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
