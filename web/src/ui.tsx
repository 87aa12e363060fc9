import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { ApiError } from './api';

/** Loads `fn` on mount and whenever `deps` change; `reload` runs it again. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[] = []): { data?: T; error?: string; loading: boolean; reload: () => void; set: (v: T) => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    fn().then(
      (v) => {
        if (!live) return;
        setData(v);
        setError(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (!live) return;
        setError(err instanceof Error ? err.message : String(err));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, set: setData };
}

/** Runs an action, keeping its error and whether it runs, for a button. */
export function useAction(): { busy: boolean; error?: string; message?: string; run: (fn: () => Promise<string | void>) => Promise<void>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [message, setMessage] = useState<string>();
  const run = useCallback(async (fn: () => Promise<string | void>) => {
    setBusy(true);
    setError(undefined);
    setMessage(undefined);
    try {
      const m = await fn();
      if (m) setMessage(m);
    } catch (err) {
      setError(err instanceof ApiError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, message, run, clear: () => (setError(undefined), setMessage(undefined)) };
}

const CHIP: Record<string, string> = {
  QUEUED: 'chip-wait',
  RUNNING: 'chip-run',
  COMPLETED: 'chip-ok',
  VERIFIED: 'chip-good',
  CORRUPTED: 'chip-bad',
  FAILED: 'chip-bad',
  CANCELLED: 'chip-muted',
};

export function StatusChip({ status }: { status: string }) {
  return (
    <span className={`chip ${CHIP[status] ?? 'chip-muted'}`} data-status={status}>
      {status}
    </span>
  );
}

/**
 * A backup's status; a degraded one (usable, but some destination lacks its copy) reads
 * "COMPLETED · degraded: offsite", never plainly COMPLETED.
 */
export function BackupStatusChip({ b }: { b: { status: string; degraded?: boolean; failedDestinations?: string[] } }) {
  if (!b.degraded) return <StatusChip status={b.status} />;
  const lacking = (b.failedDestinations ?? []).join(', ');
  return (
    <>
      <StatusChip status={b.status} />{' '}
      <span className="chip chip-warn" data-degraded="true" title={`Usable, but ${lacking || 'a destination'} lacks its copy; a re-copy job repairs it`}>
        degraded{lacking ? `: ${lacking}` : ''}
      </span>
    </>
  );
}

export function Alert({ kind = 'error', children }: { kind?: 'error' | 'ok' | 'info'; children: ReactNode }) {
  if (!children) return null;
  return (
    <div className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Section({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="card" aria-label={title}>
      <header className="card-head">
        <h2>{title}</h2>
        {actions ? <div className="actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

/** Previous/next paging of a list. */
export function Pager({ page, pages, onPage }: { page: number; pages: number; onPage: (p: number) => void }) {
  if (pages <= 1) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        ← Previous
      </button>
      <span>
        Page {page} of {pages}
      </span>
      <button type="button" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        Next →
      </button>
    </nav>
  );
}
