import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import { setTimeout as delay } from 'node:timers/promises';
import { AppConfig } from '../config/app-config.js';
import { DatabaseService } from '../database/database.service.js';
import { InstanceRegistry } from '../runtime-state/instance-registry.js';
import { ReadinessRegistry } from '../runtime-state/readiness-registry.js';
import {
  handoverLimitMs,
  REPLICA_TIMINGS,
  type ReplicaTimings,
} from '../runtime-state/replica-timings.js';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import { TaskSupervisor } from '../runtime-state/task-supervisor.js';
import type { UserSessionRevoker } from '../users/user-session-revoker.js';
import { ErrorCode } from '../http/error-codes.js';
import {
  type PreflightVerdict,
  SettingsEvent,
  type SettingsChangedEvent,
  type SettingsPreflightEvent,
} from '../settings/settings.events.js';
import { SettingsService } from '../settings/settings.service.js';
import { DatabaseSessionBackend } from './backends/database-session.backend.js';
import { MemorySessionBackend } from './backends/memory-session.backend.js';
import { RedisSessionBackend } from './backends/redis-session.backend.js';
import { MigratingBackend } from './migrating-backend.js';
import { JournaledBackend, RecentWrites, type RecentWritesTaken } from './recent-writes.js';
import type { SessionBackend, SessionBackendKind } from './session-backend.js';
import { KeelSessionStore } from './session-store.js';
import { UserSessions } from './user-sessions.js';

const BACKEND_KEY = 'sessionCache.backend';
/** How long a finished swap waits for calls still running on the old backend before closing it. */
const DRAIN_TIMEOUT_MS = 5000;
const SWEEP_INTERVAL_MS = 60_000;
/** Sessions copied at once during a swap. */
const COPY_CONCURRENCY = 64;
/** How often a swap in handover asks the registry whether every replica has switched. */
const HANDOVER_POLL_MS = 200;
/**
 * After every replica switched, how long the old backend keeps getting writes while reads
 * already prefer the new one: longer than a poll, so every replica has stopped reading the old
 * one first before any stops writing it.
 */
const HANDOVER_SETTLE_MS = 5 * HANDOVER_POLL_MS;
/** Clock difference tolerated between the replica that accepted a change and this one. */
const CLOCK_SKEW_ALLOWANCE_MS = 60_000;

export interface SessionSwapOutcome {
  from: SessionBackendKind;
  to: SessionBackendKind;
  at: string;
  migrated: number;
  durationMs: number;
  /** Set when the swap failed and the old backend stayed in force. */
  error?: string;
}

/** Events of the session cache, by name, with their payloads. */
export const SessionCacheEvent = {
  /** After every swap this process ran, succeeded or failed (`error` set). */
  Swapped: 'session-cache.swapped',
} as const;

export interface SessionCacheEventMap {
  [SessionCacheEvent.Swapped]: SessionSwapOutcome;
}

/** Wraps the backend requests reach, e.g. to count calls (metrics); given the active one. */
export type SessionBackendDecorator = (backend: SessionBackend) => SessionBackend;

export interface SessionCacheStatus {
  backend: SessionBackendKind;
  shared: boolean;
  swapping: boolean;
  lastSwap: SessionSwapOutcome | null;
}

/**
 * Owns the session cache: which backend is active, and the express-session stores that
 * delegate to it for the life of the process (so the middleware is never rebuilt).
 *
 * A change of `sessionCache.backend` is checked in the settings preflight (the new backend must
 * answer, else the change is refused and nothing changes) and applied on `settings.changed` by a
 * live swap: see `swap()`. Any other settings change never rebuilds the backend.
 */
@Injectable()
export class SessionCacheService
  implements
    OnApplicationBootstrap,
    BeforeApplicationShutdown,
    OnApplicationShutdown,
    UserSessionRevoker
{
  private readonly logger = new Logger(SessionCacheService.name);
  private active: SessionBackend;
  private swapping = false;
  private lastSwap: SessionSwapOutcome | null = null;
  /** Swaps run one after another, in the order the settings changed. */
  private swaps: Promise<unknown> = Promise.resolve();
  private decorator: SessionBackendDecorator | undefined;
  /** `active` as requests see it (decorated), rebuilt only when `active` changes. */
  private served: { backend: SessionBackend; decorated: SessionBackend } | undefined;
  /** The sessions this replica wrote lately: carried over when it switches after another copied. */
  private readonly recentWrites = new RecentWrites();
  /** Aborted at shutdown: a handover in progress stops waiting for other replicas. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly config: AppConfig,
    private readonly database: DatabaseService,
    private readonly settings: SettingsService,
    private readonly runtime: RuntimeStateService,
    private readonly readiness: ReadinessRegistry,
    private readonly tasks: TaskSupervisor,
    private readonly events: EventEmitter2,
    private readonly registry: InstanceRegistry,
    @Inject(REPLICA_TIMINGS) private readonly timings: ReplicaTimings,
  ) {
    // Replaced in onApplicationBootstrap by the backend the settings name; memory needs nothing.
    this.active = new MemorySessionBackend();
  }

  /**
   * An express-session store that delegates every call to the backend active at that moment,
   * so the middleware built on it never has to be rebuilt when the backend changes. One per
   * express-session middleware: express-session patches its own `generate` onto the store it is
   * given, so two middlewares (plain and TLS cookies) must not share one.
   */
  createStore(): KeelSessionStore {
    return new KeelSessionStore({
      backend: () => this.serving(),
      idleTimeoutMs: () => this.settings.current.values.session.idleTimeoutSeconds * 1000,
      absoluteTimeoutMs: () => this.absoluteTimeoutMs(),
    });
  }

  /** A user's sessions through the active backend's per-user index (list, revoke). */
  readonly userSessions = new UserSessions({
    backend: () => this.serving(),
    absoluteTimeoutMs: () => this.absoluteTimeoutMs(),
  });

  private absoluteTimeoutMs(): number {
    return this.settings.current.values.session.absoluteTimeoutSeconds * 1000;
  }

  async onApplicationBootstrap(): Promise<void> {
    const kind = this.settings.current.values.sessionCache.backend;
    if (kind !== 'memory') {
      const initial = this.active;
      this.active = await this.build(kind, { waitForConnection: false });
      await initial.close();
    }
    this.readiness.register('sessionCache', () => this.ping());
    // Expired rows are invisible to reads already; this only keeps the table small.
    this.tasks.registerPeriodic({
      name: 'session-sweeper',
      critical: false,
      intervalMs: SWEEP_INTERVAL_MS,
      run: async () => {
        const removed = await new DatabaseSessionBackend(this.database.db).deleteExpired();
        if (removed > 0) this.logger.debug(`Swept ${removed} expired sessions`);
      },
    });
    this.publishStatus();
    void this.registry.reportSessionCache(kind, this.settings.current.version);
    this.logger.log(`Session cache backend: ${kind}`);
  }

  /** Ends every session of a user (but `exceptSessionId`): the user index of the active backend. */
  revokeAll(userId: string, exceptSessionId?: string): Promise<number> {
    return this.userSessions.destroyAll(userId, exceptSessionId);
  }

  /** A handover still waiting for other replicas ends now (this one is leaving anyway). */
  beforeApplicationShutdown(): void {
    this.stopping.abort();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.swaps;
    await this.active.close();
  }

  /** The backend requests use now (during a swap: the migrating pair). */
  get backend(): SessionBackend {
    return this.serving();
  }

  /**
   * Every call requests make from now on (the stores, `backend`, `revokeAll`) goes through
   * `decorator(active backend)`. Set once at start-up; the metrics module counts calls with it.
   */
  decorateBackend(decorator: SessionBackendDecorator): void {
    this.decorator = decorator;
    this.served = undefined;
  }

  status(): SessionCacheStatus {
    return {
      backend: this.active.kind,
      shared: this.active.shared,
      swapping: this.swapping,
      lastSwap: this.lastSwap,
    };
  }

  /** Readiness: the active backend answers. */
  async ping(): Promise<void> {
    await this.active.ping();
  }

  @OnEvent(SettingsEvent.Preflight, { suppressErrors: false })
  async preflight(event: SettingsPreflightEvent): Promise<PreflightVerdict> {
    if (!event.changedKeys.includes(BACKEND_KEY)) return undefined;
    const kind = event.proposed.sessionCache.backend;
    // One swap at a time across the replicas: the previous one first finishes everywhere (its
    // handover waits for every live replica, within the handover limit), so no replica can
    // skip a backend another one is still handing over.
    await this.swaps;
    try {
      const candidate = await this.build(kind, { waitForConnection: true });
      try {
        await candidate.ping();
      } finally {
        if (candidate !== this.active) await candidate.close();
      }
      return undefined;
    } catch (error) {
      return {
        refuse: true,
        status: 422,
        code: ErrorCode.BackendUnavailable,
        message: `The ${kind} session backend cannot be reached, so the session cache stays on ${
          this.active.kind
        }: ${describe(error)}`,
      };
    }
  }

  @OnEvent(SettingsEvent.Changed, { suppressErrors: false })
  async onSettingsChanged(event: SettingsChangedEvent): Promise<void> {
    if (!event.changedKeys.includes(BACKEND_KEY)) return;
    await this.swap(event.next.values.sessionCache.backend, event.origin, {
      version: event.next.version,
      changedAt: event.next.updatedAt,
    });
  }

  /**
   * Moves the cache to `kind` while requests keep flowing:
   * 1. build the new backend and check it answers (if not: the old one stays, and we say why);
   * 2. (when this process accepted the change) empty it, so nothing stale from an earlier era
   *    survives there, then make the migrating pair active: writes go to both, reads try the new
   *    one first and fall back to the old;
   * 3. copy every live session of the old backend across (newer data wins, expiry kept);
   * 4. make the new backend active alone, and close the old one once in-flight calls are done.
   * A failure midway reverts to the old backend, which writes kept complete and current.
   *
   * With other live replicas, step 4 waits (in the background: the caller's promise resolves
   * after step 3) until every replica has switched: see `handOver`. A replica told of the change
   * by another (origin `remote`) does not empty or copy a shared backend; it carries over only
   * what it wrote to the old backend alone lately (`RecentWrites`).
   */
  swap(
    kind: SessionBackendKind,
    origin: SettingsChangedEvent['origin'] = 'local',
    change: { version: number; changedAt: number } = {
      version: this.settings.current.version,
      changedAt: this.settings.current.updatedAt,
    },
  ): Promise<void> {
    const run = this.swaps.then(() => this.runSwap(kind, origin, change));
    // The next swap waits for this one's handover too; the caller only for the copy.
    this.swaps = run.then(
      ({ handover }) => handover,
      () => undefined,
    );
    return run.then(() => undefined);
  }

  private async runSwap(
    kind: SessionBackendKind,
    origin: SettingsChangedEvent['origin'],
    change: { version: number; changedAt: number },
  ): Promise<{ handover?: Promise<void> }> {
    const source = this.active;
    if (source.kind === kind) {
      await this.report(kind, change.version);
      return {};
    }
    const started = Date.now();
    const outcome = (migrated: number, error?: unknown): SessionSwapOutcome => ({
      from: source.kind,
      to: kind,
      at: new Date(started).toISOString(),
      migrated,
      durationMs: Date.now() - started,
      ...(error === undefined ? {} : { error: describe(error) }),
    });

    this.swapping = true;
    this.publishStatus();
    let target: SessionBackend | undefined;
    let pair: MigratingBackend | undefined;
    let migrated = 0;
    try {
      target = await this.build(kind, { waitForConnection: true });
      await target.ping();
      // Only the process that accepted the change empties and copies; the others (told of it
      // later) switch and carry over what they alone wrote since (below).
      if (origin === 'local' && !(await this.servedElsewhere(kind))) await target.clear();
      pair = new MigratingBackend(source, target);
      // A shared old backend is the one every replica writes until all have switched (the
      // late ones write nothing else), so until then it is the one to read first.
      if (source.shared) pair.readFrom = 'source';
      this.active = pair;
      // From here every write goes to both; what this replica wrote before, to `source` alone:
      const written = this.recentWrites.take(change.changedAt - CLOCK_SKEW_ALLOWANCE_MS);
      this.publishStatus();
      if (origin === 'local' || !source.shared) {
        migrated = await copyAll(source, pair);
      } else {
        await this.recentWrites.settled(DRAIN_TIMEOUT_MS);
        migrated = await resyncAll(written, pair);
      }
      this.lastSwap = outcome(migrated);
      this.logger.log({
        msg: `Session cache swapped ${source.kind} -> ${kind}: ${migrated} sessions migrated in ${this.lastSwap.durationMs} ms`,
        ...swapLogFields(this.lastSwap, origin),
      });
      this.publishStatus();
    } catch (error) {
      this.active = source;
      if (target) await target.close().catch(() => undefined);
      this.lastSwap = outcome(migrated, error);
      this.logger.error({
        msg: `Session cache swap ${source.kind} -> ${kind} failed; ${source.kind} stays in force: ${describe(error)}`,
        ...swapLogFields(this.lastSwap, origin),
      });
      this.swapping = false;
      this.publishStatus();
      this.events.emit(SessionCacheEvent.Swapped, this.lastSwap);
      throw error;
    }
    await this.report(kind, change.version);
    const others = await this.otherLiveReplicas();
    if (others === 0) {
      await this.finishSwap(pair, source, target);
      return {};
    }
    // Queued by `swap`, not awaited by the settings change: the other replicas hear of the
    // change only after it is applied here. It never rejects.
    const handover = this.handOver(pair, source, target, change.version).catch((error: unknown) =>
      this.logger.error(`Session cache handover failed: ${describe(error)}`),
    );
    return { handover };
  }

  /**
   * The old backend stays in use until every live replica serves `version` (or the handover
   * limit passes): until then some replica may still read and write the old backend alone, so
   * this one keeps writing both and reads the old one first. Then reads prefer the new backend
   * (which by now got the copy, every replica's dual writes and their carried-over writes), the
   * old one still gets writes for a moment so no replica reading it first misses one, and the
   * new backend is used alone.
   */
  private async handOver(
    pair: MigratingBackend,
    source: SessionBackend,
    target: SessionBackend,
    version: number,
  ): Promise<void> {
    const deadline = Date.now() + handoverLimitMs(this.timings);
    let late: string[] = [];
    while (!this.stopping.signal.aborted) {
      late = await this.replicasBehind(version);
      if (late.length === 0 || Date.now() >= deadline) break;
      await delay(HANDOVER_POLL_MS, undefined, { signal: this.stopping.signal }).catch(() => {});
    }
    if (late.length > 0 && !this.stopping.signal.aborted) {
      this.logger.warn(
        `Session cache handover to ${target.kind}: ${late.join(', ')} did not switch within ${handoverLimitMs(this.timings)} ms; no longer writing ${source.kind} for them`,
      );
    }
    pair.readFrom = 'target';
    await delay(HANDOVER_SETTLE_MS, undefined, { signal: this.stopping.signal }).catch(() => {});
    await this.finishSwap(pair, source, target);
    this.logger.log(`Session cache handover ${source.kind} -> ${target.kind} complete`);
  }

  /** The new backend alone from now; the old one is closed once calls still on it end. */
  private async finishSwap(
    pair: MigratingBackend,
    source: SessionBackend,
    target: SessionBackend,
  ): Promise<void> {
    if (this.active === pair) this.active = target;
    this.swapping = false;
    this.publishStatus();
    if (this.lastSwap) this.events.emit(SessionCacheEvent.Swapped, this.lastSwap);
    await pair.drained(DRAIN_TIMEOUT_MS);
    await source.close();
  }

  /** Tells the registry (and so the other replicas) which backend this one serves, at which version. */
  private async report(kind: SessionBackendKind, version: number): Promise<void> {
    await this.registry.reportSessionCache(kind, version).catch((error: unknown) => {
      this.logger.warn(`Could not record the session backend in the registry: ${describe(error)}`);
    });
  }

  /**
   * Whether another live replica serves `kind` now: then it holds live sessions, not stale
   * ones, and must not be emptied (only after a replica failed to follow an earlier swap).
   */
  private async servedElsewhere(kind: SessionBackendKind): Promise<boolean> {
    if (kind === 'memory') return false;
    try {
      const live = await this.registry.live();
      return live.some(
        (instance) =>
          instance.instanceId !== this.runtime.instanceId && instance.sessionBackend === kind,
      );
    } catch {
      return false;
    }
  }

  /** Live replicas besides this one; unknown (the registry can't be read) counts as some. */
  private async otherLiveReplicas(): Promise<number> {
    try {
      const live = await this.registry.live();
      return live.filter((instance) => instance.instanceId !== this.runtime.instanceId).length;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  /** Live replicas (by host and instance) not yet serving `version`; on a read error, "unknown". */
  private async replicasBehind(version: number): Promise<string[]> {
    try {
      const live = await this.registry.live();
      return live
        .filter(
          (instance) =>
            instance.instanceId !== this.runtime.instanceId &&
            instance.sessionCacheVersion < version,
        )
        .map((instance) => `${instance.host}/${instance.instanceId}`);
    } catch (error) {
      return [`(the instance registry could not be read: ${describe(error)})`];
    }
  }

  private serving(): SessionBackend {
    if (this.served?.backend !== this.active) {
      const journaled = new JournaledBackend(this.active, this.recentWrites);
      this.served = {
        backend: this.active,
        decorated: this.decorator ? this.decorator(journaled) : journaled,
      };
    }
    return this.served.decorated;
  }

  private publishStatus(): void {
    this.runtime.setSessionCacheStatus(this.status());
  }

  private async build(
    kind: SessionBackendKind,
    { waitForConnection }: { waitForConnection: boolean },
  ): Promise<SessionBackend> {
    switch (kind) {
      case 'memory':
        return new MemorySessionBackend();
      case 'database':
        return new DatabaseSessionBackend(this.database.db);
      case 'redis': {
        if (!this.config.redisUrl) {
          throw new Error(
            'REDIS_URL is not set: start Keel with REDIS_URL to use the redis backend',
          );
        }
        return RedisSessionBackend.connect(this.config.redisUrl, this.config.redisPrefix, {
          waitForConnection,
        });
      }
    }
  }
}

/** The fields of a swap's log line, for searching logs by outcome or backend. */
function swapLogFields(swap: SessionSwapOutcome, origin: SettingsChangedEvent['origin']) {
  return {
    swap: {
      from: swap.from,
      to: swap.to,
      origin,
      migrated: swap.migrated,
      durationMs: swap.durationMs,
      outcome: swap.error === undefined ? 'success' : 'failure',
      ...(swap.error === undefined ? {} : { error: swap.error }),
    },
  };
}

/**
 * Copies every session of `source` through `pair.migrate`, `COPY_CONCURRENCY` at a time: one by
 * one, network round trips would make a 10,000-session swap take minutes under load.
 */
async function copyAll(source: SessionBackend, pair: MigratingBackend): Promise<number> {
  let migrated = 0;
  let batch: Promise<boolean>[] = [];
  const settle = async () => {
    migrated += (await Promise.all(batch)).filter(Boolean).length;
    batch = [];
  };
  for await (const session of source.entries()) {
    batch.push(pair.migrate(session.sid));
    if (batch.length >= COPY_CONCURRENCY) await settle();
  }
  await settle();
  return migrated;
}

/**
 * Carries over what this replica wrote to the old backend alone (sessions and whole users'
 * sessions) into the new one, `COPY_CONCURRENCY` at a time. Resolves to the sessions copied.
 */
async function resyncAll(written: RecentWritesTaken, pair: MigratingBackend): Promise<number> {
  let copied = 0;
  for (let start = 0; start < written.sids.length; start += COPY_CONCURRENCY) {
    const batch = written.sids.slice(start, start + COPY_CONCURRENCY);
    copied += (await Promise.all(batch.map((sid) => pair.resync(sid)))).filter(Boolean).length;
  }
  for (const userId of written.userIds) await pair.resyncUser(userId);
  return copied;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
