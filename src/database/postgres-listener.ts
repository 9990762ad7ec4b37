import type pg from 'pg';
import { postgresDriver } from './drivers.js';

export interface PostgresListenOptions {
  url: string;
  /** `application_name` of the connection, so an operator can tell it in pg_stat_activity. */
  applicationName: string;
  channels: readonly string[];
  /** What the connection is for, named in the error a lost connection ends with. */
  purpose: string;
  signal: AbortSignal;
  /** Called for each notice, in the order PostgreSQL committed them. */
  onNotification(channel: string, payload: string): void;
  /**
   * Called once LISTEN holds on every channel. Whatever it returns runs beside the listening:
   * if it rejects, the listening ends with its error (the subscriber's echo uses this).
   */
  onListening(client: pg.Client): Promise<void> | void;
}

/**
 * LISTEN on a dedicated connection until `signal` aborts (resolves) or the connection is lost
 * (rejects). Dedicated, not pooled: a pooled connection may be handed to someone else, and its
 * notices with it. The callers are supervised tasks, which restart a listen that rejected.
 */
export async function listenOnPostgres(options: PostgresListenOptions): Promise<void> {
  const { signal, purpose } = options;
  if (signal.aborted) return;
  const client = new (postgresDriver().Client)({
    connectionString: options.url,
    application_name: options.applicationName,
    connectionTimeoutMillis: 5000,
    keepAlive: true,
  });
  let fail: (error: Error) => void = () => undefined;
  const lost = new Promise<never>((_, reject) => (fail = reject));
  lost.catch(() => undefined);
  client.on('error', (error) =>
    fail(new Error(`PostgreSQL ${purpose} connection lost: ${error.message}`)),
  );
  client.on('end', () => fail(new Error(`PostgreSQL ${purpose} connection ended`)));
  client.on('notification', ({ channel, payload }) =>
    options.onNotification(channel, payload ?? ''),
  );
  const stopped = new Promise<void>((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  try {
    await Promise.race([client.connect(), lost]);
    for (const channel of options.channels) {
      await Promise.race([client.query(`LISTEN "${channel.replaceAll('"', '""')}"`), lost]);
    }
    const beside = options.onListening(client) ?? stopped;
    await Promise.race([beside, stopped, lost]);
  } finally {
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    await client.end().catch(() => undefined);
  }
}
