import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import { AppConfig } from '../config/app-config.js';
import { DatabaseService } from '../database/database.service.js';
import { ReadinessRegistry } from '../runtime-state/readiness-registry.js';
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
import type { SessionBackend, SessionBackendKind } from './session-backend.js';
import { KeelSessionStore } from './session-store.js';

const BACKEND_KEY = 'sessionCache.backend';
/** How long a finished swap waits for calls still running on the old backend before closing it. */
const DRAIN_TIMEOUT_MS = 5000;
const SWEEP_INTERVAL_MS = 60_000;
/** Sessions copied at once during a swap. */
const COPY_CONCURRENCY = 64;

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
  implements OnApplicationBootstrap, OnApplicationShutdown, UserSessionRevoker
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

  constructor(
    private readonly config: AppConfig,
    private readonly database: DatabaseService,
    private readonly settings: SettingsService,
    private readonly runtime: RuntimeStateService,
    private readonly readiness: ReadinessRegistry,
    private readonly tasks: TaskSupervisor,
    private readonly events: EventEmitter2,
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
      absoluteTimeoutMs: () => this.settings.current.values.session.absoluteTimeoutSeconds * 1000,
    });
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
    this.logger.log(`Session cache backend: ${kind}`);
  }

  /** Ends every session of a user (but `exceptSessionId`): the user index of the active backend. */
  revokeAll(userId: string, exceptSessionId?: string): Promise<number> {
    return this.serving().destroyByUser(userId, exceptSessionId);
  }

  async onApplicationShutdown(): Promise<void> {
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
    await this.swap(event.next.values.sessionCache.backend, event.origin);
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
   */
  swap(kind: SessionBackendKind, origin: SettingsChangedEvent['origin'] = 'local'): Promise<void> {
    const run = this.swaps.then(() => this.runSwap(kind, origin));
    this.swaps = run.catch(() => undefined);
    return run;
  }

  private async runSwap(kind: SessionBackendKind, origin: SettingsChangedEvent['origin']) {
    const source = this.active;
    if (source.kind === kind) return;
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
      // Only the process that accepted the change copies; the others (told of it later) just
      // switch, reading through to the old shared backend for sessions not there yet.
      if (origin === 'local') await target.clear();
      pair = new MigratingBackend(source, target);
      this.active = pair;
      this.publishStatus();
      if (origin === 'local' || !source.shared) {
        migrated = await copyAll(source, pair);
      }
      this.active = target;
      this.lastSwap = outcome(migrated);
      this.logger.log({
        msg: `Session cache swapped ${source.kind} -> ${kind}: ${migrated} sessions migrated in ${this.lastSwap.durationMs} ms`,
        ...swapLogFields(this.lastSwap, origin),
      });
    } catch (error) {
      this.active = source;
      if (target) await target.close().catch(() => undefined);
      this.lastSwap = outcome(migrated, error);
      this.logger.error({
        msg: `Session cache swap ${source.kind} -> ${kind} failed; ${source.kind} stays in force: ${describe(error)}`,
        ...swapLogFields(this.lastSwap, origin),
      });
      throw error;
    } finally {
      this.swapping = false;
      this.publishStatus();
      const swapped: SessionCacheEventMap[typeof SessionCacheEvent.Swapped] | null = this.lastSwap;
      if (swapped) this.events.emit(SessionCacheEvent.Swapped, swapped);
    }
    await pair?.drained(DRAIN_TIMEOUT_MS);
    await source.close();
  }

  private serving(): SessionBackend {
    if (!this.decorator) return this.active;
    if (this.served?.backend !== this.active) {
      this.served = { backend: this.active, decorated: this.decorator(this.active) };
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

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
