import { type Kysely, sql } from 'kysely';
import { listenOnPostgres } from '../database/postgres-listener.js';
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

  listen({ signal, onAnnouncement, onSubscribed }: ListenOptions): Promise<void> {
    return listenOnPostgres({
      url: this.url,
      applicationName: subscriberName(this.instanceId),
      channels: [POSTGRES_SETTINGS_CHANNEL],
      purpose: 'settings subscriber',
      signal,
      onNotification: (channel, payload) => {
        if (channel !== POSTGRES_SETTINGS_CHANNEL) return;
        const announcement = parseAnnouncement(payload);
        if (announcement) onAnnouncement(announcement);
      },
      onListening: () => onSubscribed(),
    });
  }

  async close(): Promise<void> {}
}
