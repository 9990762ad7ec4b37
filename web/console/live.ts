import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type RuntimeReport } from '../shared/api';

export type { RuntimeReport };
export type Connection = 'connecting' | 'live' | 'reconnecting';

/** How long the console waits before it follows a stream that ended for a reason other than sign-out. */
const RECONNECT_MS = 1000;

/**
 * The runtime report, live: `GET /api/runtime/events` sends it whenever it changes. A stream
 * ends when the session ends (then `onSignedOut`) or when its replica drains or loses a
 * dependency (then the console reconnects, and the load balancer picks a replica that serves).
 * The console reconnects itself rather than by EventSource's own retry, so an answer of 401
 * (the session ended while the stream was down) signs out instead of retrying forever.
 */
export function useRuntimeEvents(onSignedOut: () => void): {
  report: RuntimeReport | undefined;
  connection: Connection;
} {
  const [report, setReport] = useState<RuntimeReport | undefined>();
  const [connection, setConnection] = useState<Connection>('connecting');
  const signedOut = useRef(onSignedOut);
  signedOut.current = onSignedOut;

  useEffect(() => {
    let source: EventSource | undefined;
    let timer: number | undefined;
    let stopped = false;
    const connect = () => {
      source = new EventSource('/api/runtime/events');
      source.addEventListener('runtime', (event) => {
        setReport(JSON.parse((event as MessageEvent<string>).data) as RuntimeReport);
        setConnection('live');
      });
      source.addEventListener('end', (event) => {
        source?.close();
        const { reason } = JSON.parse((event as MessageEvent<string>).data) as { reason: string };
        if (reason === 'session_ended') signedOut.current();
        else retry();
      });
      source.onerror = () => {
        source?.close();
        retry();
      };
    };
    const retry = () => {
      if (stopped) return;
      setConnection('reconnecting');
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        void api('GET', '/api/auth/me').then(
          (me) => {
            if (stopped) return;
            if (me.status === 401) signedOut.current();
            else connect();
          },
          () => retry(),
        );
      }, RECONNECT_MS);
    };
    connect();
    return () => {
      stopped = true;
      source?.close();
      window.clearTimeout(timer);
    };
  }, []);
  return { report, connection };
}
