import { type Kysely, sql } from 'kysely';
import { postgresDriver } from '../database/drivers.js';
import type { DatabaseSchema } from '../database/schema.js';
import {
  type ListenOptions,
  parseAnnouncement,
  type SettingsAnnouncement,
  type SettingsAnnouncer,
  subscriberName,
} from './settings-announcer.js';

/** One channel per database: replicas of one deployment share its database. */
export const POSTGRES_SETTINGS_CHANNEL = 'keel_settings';

/**
 * Announcements over PostgreSQL LISTEN/NOTIFY, for deployments without Redis. `NOTIFY` goes
 * through the pool; each `listen` holds a dedicated connection (application_name
 * `keel-settings-subscriber:<instanceId>`), since a pooled one may be handed to someone else.
 * Losing that connection ends `listen`.
 */
export class PostgresSettingsAnnouncer implements SettingsAnnouncer {
  readonly description = `PostgreSQL channel ${POSTGRES_SETTINGS_CHANNEL}`;

  constructor(
    private readonly url: string,
    private readonly db: Kysely<DatabaseSchema>,
    private readonly instanceId: string,
  ) {}

  async announce(announcement: SettingsAnnouncement): Promise<void> {
    await sql`select pg_notify(${POSTGRES_SETTINGS_CHANNEL}, ${JSON.stringify(announcement)})`.execute(
      this.db,
    );
  }

  async listen({ signal, onAnnouncement, onSubscribed }: ListenOptions): Promise<void> {
    if (signal.aborted) return;
    const client = new (postgresDriver().Client)({
      connectionString: this.url,
      application_name: subscriberName(this.instanceId),
      connectionTimeoutMillis: 5000,
      keepAlive: true,
    });
    let fail: (error: Error) => void = () => undefined;
    const lost = new Promise<never>((_, reject) => (fail = reject));
    lost.catch(() => undefined);
    client.on('error', (error) =>
      fail(new Error(`PostgreSQL subscriber connection lost: ${error.message}`)),
    );
    client.on('end', () => fail(new Error('PostgreSQL subscriber connection ended')));
    client.on('notification', (notification) => {
      if (notification.channel !== POSTGRES_SETTINGS_CHANNEL) return;
      const announcement = parseAnnouncement(notification.payload ?? '');
      if (announcement) onAnnouncement(announcement);
    });
    const stopped = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    try {
      await Promise.race([client.connect(), lost]);
      await Promise.race([client.query(`LISTEN ${POSTGRES_SETTINGS_CHANNEL}`), lost]);
      onSubscribed();
      await Promise.race([stopped, lost]);
    } finally {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {}
}
