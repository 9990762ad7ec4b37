import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { REPLICA_TIMINGS, type ReplicaTimings } from '../replicas/replica-timings.js';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import { TaskSupervisor } from '../tasks/task-supervisor.js';
import {
  OnSettingsEvent,
  SettingsEvent,
  type SettingsCommittedEvent,
} from '../settings/settings.events.js';
import { SettingsService } from '../settings/settings.service.js';
import {
  SETTINGS_ANNOUNCER,
  type SettingsAnnouncement,
  type SettingsAnnouncer,
} from './settings-announcer.js';

/** Restarts of a lost subscriber: soon, but not in a tight loop while Redis/PostgreSQL is down. */
const SUBSCRIBER_BACKOFF = Object.freeze({ initialMs: 500, maxMs: 10_000 });
/** Tests reconcile every few hundred ms; a loaded machine still reads the settings within this. */
const MIN_READ_DEADLINE_MS = 2000;

/**
 * How a settings change reaches every replica:
 *
 * - the replica that persisted it announces it (`settings.committed` -> `SettingsAnnouncer`);
 * - every replica keeps a subscriber (`settings-subscriber`, a supervised long-lived task; a lost
 *   connection is a crash, restarted with backoff) and, on an announcement newer than what it
 *   holds, calls `SettingsService.refresh()`, which reloads from the database and applies in
 *   version order, idempotently; after every (re)subscription it refreshes once, for what it
 *   missed while it was not listening;
 * - every replica also runs `settings-reconciliation` every `reconcileIntervalMs`: the same
 *   `refresh()`, so a missed announcement delays a change by at most that interval.
 *
 * On SQLite there is no announcer (one process), only the reconciliation.
 */
@Injectable()
export class SettingsAnnouncements implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SettingsAnnouncements.name);

  constructor(
    private readonly settings: SettingsService,
    private readonly runtime: RuntimeStateService,
    private readonly supervisor: TaskSupervisor,
    @Inject(REPLICA_TIMINGS) private readonly timings: ReplicaTimings,
    @Inject(SETTINGS_ANNOUNCER) private readonly announcer: SettingsAnnouncer | null,
  ) {}

  onModuleInit(): void {
    const announcer = this.announcer;
    if (announcer) {
      this.supervisor.registerLongLived({
        name: 'settings-subscriber',
        critical: false,
        backoff: SUBSCRIBER_BACKOFF,
        run: (context) =>
          announcer.listen({
            signal: context.signal,
            onAnnouncement: (announcement) => this.onAnnouncement(announcement),
            onSubscribed: () => {
              context.reportProgress();
              this.logger.log(`Listening for settings changes on ${announcer.description}`);
              void this.catchUp('subscribed');
            },
          }),
      });
    }
    this.supervisor.registerPeriodic({
      name: 'settings-reconciliation',
      critical: false,
      intervalMs: this.timings.reconcileIntervalMs,
      // None for the pass: one that finds a backend change takes this replica through the
      // whole handover, which has its own limits. Its read has a deadline of its own.
      timeoutMs: null,
      run: () => this.catchUp('reconciliation', this.readDeadlineMs),
    });
  }

  /** A read of the stored settings slower than one reconciliation interval is given up on. */
  private get readDeadlineMs(): number {
    return Math.max(this.timings.reconcileIntervalMs, MIN_READ_DEADLINE_MS);
  }

  @OnSettingsEvent(SettingsEvent.Committed)
  async onCommitted(event: SettingsCommittedEvent): Promise<void> {
    if (!this.announcer) return;
    try {
      await this.announcer.announce({
        version: event.version,
        instanceId: this.runtime.instanceId,
      });
    } catch (error) {
      this.logger.warn(
        `Settings version ${event.version} could not be announced on ${this.announcer.description} (${
          error instanceof Error ? error.message : String(error)
        }); other replicas apply it within ${this.timings.reconcileIntervalMs} ms through the reconciliation`,
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.announcer?.close();
  }

  private onAnnouncement(announcement: SettingsAnnouncement): void {
    if (announcement.instanceId === this.runtime.instanceId) return;
    // Idempotent anyway (refresh applies only a newer stored version); this skips the query.
    if (announcement.version <= this.settings.current.version) return;
    void this.catchUp('announcement');
  }

  /** Reloads the settings and applies a newer version; says so when that was news. */
  private async catchUp(
    reason: 'announcement' | 'subscribed' | 'reconciliation',
    readTimeoutMs?: number,
  ): Promise<void> {
    const before = this.settings.current.version;
    try {
      const after = (await this.settings.refresh({ readTimeoutMs })).version;
      if (after === before) return;
      const message = `Applied settings version ${after} (was ${before}) after ${
        reason === 'announcement'
          ? 'its announcement'
          : reason === 'subscribed'
            ? 'subscribing to announcements'
            : 'the reconciliation found it: its announcement was missed'
      }`;
      this.logger.log({
        msg: message,
        settings: { version: after, previousVersion: before, reason },
      });
    } catch (error) {
      // The periodic task counts its own failures (it rethrows); the others only log.
      if (reason === 'reconciliation') throw error;
      this.logger.warn(
        `Could not reload the settings after ${reason === 'announcement' ? 'an announcement' : 'subscribing'}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }
}
