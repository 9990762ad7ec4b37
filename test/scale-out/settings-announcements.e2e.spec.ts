import { EventEmitter2 } from '@nestjs/event-emitter';
import pg from 'pg';
import { setTimeout as delay } from 'node:timers/promises';
import { REPLICA_TIMINGS } from '../../src/replicas/replica-timings.js';
import { POSTGRES_SETTINGS_CHANNEL } from '../../src/scale-out/postgres-settings-announcer.js';
import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import { SETTINGS_ANNOUNCER, subscriberName } from '../../src/scale-out/settings-announcer.js';
import { SettingsEvent } from '../../src/settings/settings.events.js';
import { SettingsService } from '../../src/settings/settings.service.js';
import {
  createPostgresDatabase,
  POSTGRES_URL,
  type TemporaryDatabase,
} from '../support/services.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil } from './replica-cluster.js';

// Announcements between replicas on PostgreSQL without Redis (LISTEN/NOTIFY), what a receiver
// does with a repeated, late or bogus one (nothing), and the reconciliation that catches a
// replica up when it hears no announcement at all. Three apps in this process, one database.

const TIMINGS = { heartbeatIntervalMs: 300, reconcileIntervalMs: 700 };

(POSTGRES_URL ? describe : describe.skip)('settings announcements and reconciliation', () => {
  let database: TemporaryDatabase;
  let a: TestApp;
  let b: TestApp;
  let deaf: TestApp;
  let changedOnB = 0;

  beforeAll(async () => {
    database = await createPostgresDatabase();
    const timings = { token: REPLICA_TIMINGS, value: TIMINGS };
    a = await startTestApp({ databaseUrl: database.url, overrideProviders: [timings] });
    b = await startTestApp({ databaseUrl: database.url, overrideProviders: [timings] });
    // Hears no announcement: only the reconciliation can tell it about a change.
    deaf = await startTestApp({
      databaseUrl: database.url,
      overrideProviders: [timings, { token: SETTINGS_ANNOUNCER, value: null }],
    });
    b.app.get(EventEmitter2).on(SettingsEvent.Changed, () => (changedOnB += 1));
    // b's subscriber connection has run LISTEN (its last statement) and waits.
    const name = subscriberName(b.app.get(RuntimeStateService).instanceId);
    await waitUntil('b listens', async () => {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query(
          `select 1 from pg_stat_activity where application_name = $1 and state = 'idle' and query like 'LISTEN%'`,
          [name],
        );
        return rows.length === 1;
      } finally {
        await client.end();
      }
    });
  });

  afterAll(async () => {
    for (const app of [deaf, b, a]) await app?.close();
    await database?.drop();
  });

  const settingsOf = (app: TestApp) => app.app.get(SettingsService);

  it('a change reaches a listening replica over NOTIFY within 1 second, and a deaf one within the reconciliation interval', async () => {
    const sent = Date.now();
    const next = await settingsOf(a).update(
      { siteName: 'Announced' },
      settingsOf(a).current.version,
      'test',
    );
    await waitUntil(
      'b applies it',
      async () => settingsOf(b).current.version === next.version,
      1000,
      2,
    );
    const heardAfter = Date.now() - sent;
    await waitUntil(
      'the deaf replica applies it',
      async () => settingsOf(deaf).current.version === next.version,
      TIMINGS.reconcileIntervalMs + 500,
      5,
    );
    process.stdout.write(
      `PostgreSQL NOTIFY: replica b applied version ${next.version} ${heardAfter} ms after the change; the replica without announcements ${Date.now() - sent} ms after (reconciliation every ${TIMINGS.reconcileIntervalMs} ms)\n`,
    );
    expect(settingsOf(b).current.values.siteName).toBe('Announced');
    expect(settingsOf(deaf).current.values.siteName).toBe('Announced');
    expect(changedOnB).toBe(1);
  });

  it('ignores announcements seen twice, late, or of versions that are not stored', async () => {
    const version = settingsOf(b).current.version;
    const before = changedOnB;
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      for (const announced of [version, version, version - 1, 0, version + 5]) {
        const payload = JSON.stringify({ version: announced, instanceId: 'another-replica' });
        await client.query('select pg_notify($1, $2)', [POSTGRES_SETTINGS_CHANNEL, payload]);
      }
      await client.query('select pg_notify($1, $2)', [POSTGRES_SETTINGS_CHANNEL, 'not json']);
    } finally {
      await client.end();
    }
    await delay(300);
    expect(settingsOf(b).current.version).toBe(version);
    expect(changedOnB).toBe(before);
  });
});
