import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type pg from 'pg';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../../config/app-config.js';
import { listenOnPostgres } from '../../database/postgres-listener.js';
import { RuntimeStateService } from '../../runtime-state/runtime-state.service.js';
import { TaskSupervisor } from '../../tasks/task-supervisor.js';
import { SessionReadCache } from './session-read-cache.js';

/** What the `sessions` trigger notifies (migration 0008): the id of a changed or deleted row. */
export const SESSION_CHANGES_CHANNEL = 'keel_sessions';

/**
 * How the read cache stays current across replicas: an echo every ECHO_INTERVAL_MS through
 * the notice stream renews a lease of LEASE_MS from when it was sent, so a session ended on
 * another replica is served from memory here for at most LEASE_MS after its write committed
 * (the documented bound for user changes is a second). A slower echo round trip only means
 * reads go to the database meanwhile.
 */
export const SESSION_CACHE_LEASE = Object.freeze({ echoIntervalMs: 250, leaseMs: 750 });
/** An echo query unanswered this long means a dead link: reconnect rather than wait on TCP. */
const ECHO_TIMEOUT_MS = 5000;
const SUBSCRIBER_BACKOFF = Object.freeze({ initialMs: 500, maxMs: 10_000 });

/**
 * On PostgreSQL, listens for the `sessions` trigger's change notices on a connection of its own
 * (application_name `keel-session-changes:<instanceId>`) and keeps the SessionReadCache's lease
 * (see there). A supervised long-lived task, `session-change-subscriber`: a lost connection is
 * a crash, restarted with backoff, and while it is down nothing is served from the cache. On
 * SQLite there is nothing to listen to: one process sees all its writes.
 */
@Injectable()
export class SessionChangeSubscriber implements OnModuleInit {
  private readonly logger = new Logger(SessionChangeSubscriber.name);

  constructor(
    private readonly config: AppConfig,
    private readonly runtime: RuntimeStateService,
    private readonly supervisor: TaskSupervisor,
    private readonly cache: SessionReadCache,
  ) {}

  onModuleInit(): void {
    if (!this.cache.leased || this.config.database.dialect !== 'postgres') return;
    const url = this.config.database.url;
    this.supervisor.registerLongLived({
      name: 'session-change-subscriber',
      critical: false,
      backoff: SUBSCRIBER_BACKOFF,
      run: async (context) => {
        try {
          await this.listen(url, context.signal, () => context.reportProgress());
        } finally {
          this.cache.endLease();
        }
      },
    });
  }

  private listen(url: string, signal: AbortSignal, onSubscribed: () => void): Promise<void> {
    const echoChannel = `keel_session_echo_${this.runtime.instanceId.replace(/[^a-zA-Z0-9]/g, '')}`;
    return listenOnPostgres({
      url,
      applicationName: `keel-session-changes:${this.runtime.instanceId}`,
      channels: [SESSION_CHANGES_CHANNEL, echoChannel],
      purpose: 'session-change',
      signal,
      // Applied in the order PostgreSQL committed them: an echo arrives after every notice
      // committed before it was sent.
      onNotification: (channel, payload) => {
        if (channel === SESSION_CHANGES_CHANNEL) {
          if (payload) this.cache.invalidate(payload);
          else this.cache.invalidateAll(); // TRUNCATE
        } else if (channel === echoChannel) {
          const sentAt = Number(payload);
          if (Number.isFinite(sentAt)) this.cache.renewLease(sentAt, SESSION_CACHE_LEASE.leaseMs);
        }
      },
      onListening: (client) => {
        onSubscribed();
        this.logger.log(
          `Listening for session changes on PostgreSQL channel ${SESSION_CHANGES_CHANNEL}: the read cache is on`,
        );
        return this.echo(client, echoChannel, signal);
      },
    });
  }

  /** Sends an echo every interval, one at a time; rejects when one goes unanswered too long. */
  private async echo(client: pg.Client, channel: string, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const sent = client.query('select pg_notify($1, $2)', [channel, String(performance.now())]);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no echo from PostgreSQL within ${ECHO_TIMEOUT_MS} ms`)),
          ECHO_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([sent, late]);
      } finally {
        clearTimeout(timer);
      }
      await sleep(SESSION_CACHE_LEASE.echoIntervalMs, undefined, { signal }).catch(() => undefined);
    }
  }
}
