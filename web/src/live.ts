import { useEffect, useRef } from 'react';
import { API, type Backup, type Progress, type RestoreRun } from './api';

export type LiveMessage =
  | { kind: 'backup'; event: string; backup: Backup }
  | { kind: 'restore'; event: string; restore: RestoreRun }
  | { kind: 'progress'; id: string; target: string; status: string; progress: Progress | null };

type Listener = (m: LiveMessage) => void;
const listeners = new Set<Listener>();
let source: EventSource | undefined;

/** One EventSource for the whole page, opened while any view listens. */
function open(): void {
  if (source) return;
  source = new EventSource(`${API}/events`);
  const relay = (kind: LiveMessage['kind']) => (e: MessageEvent<string>) => {
    const data = JSON.parse(e.data) as Record<string, unknown>;
    for (const l of listeners) l({ kind, ...data } as LiveMessage);
  };
  source.addEventListener('backup', relay('backup'));
  source.addEventListener('restore', relay('restore'));
  source.addEventListener('progress', relay('progress'));
}

function close(): void {
  source?.close();
  source = undefined;
}

/** Calls `fn` with every live message while the component is mounted. */
export function useLive(fn: Listener): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    const l: Listener = (m) => ref.current(m);
    listeners.add(l);
    open();
    return () => {
      listeners.delete(l);
      if (!listeners.size) close();
    };
  }, []);
}
