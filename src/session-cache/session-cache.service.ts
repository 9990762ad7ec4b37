import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ReadinessRegistry } from '../runtime-state/readiness-registry.js';
import { SettingsService } from '../settings/settings.service.js';
import type { SessionCacheStatus } from '../runtime-state/runtime-state.service.js';
import { ActiveSessionBackend, type SessionBackendDecorator } from './active-session-backend.js';
import { MigratingBackend } from './migrating-backend.js';
import type { SessionBackend } from './session-backend.js';
import { SessionBackendFactory } from './session-backend-factory.js';
import { BACKEND_KEY } from './session-cache-settings.listener.js';
import { SessionCacheFollower } from './session-cache-follower.js';
import { SessionHandover } from './session-handover.js';
import { KeelSessionStore, type SessionCookieAttributes } from './session-store.js';
import { SessionSwap } from './session-swap.js';
import { UserSessions } from './user-sessions.js';

/**
 * What the rest of Keel uses of the session cache: the express-session stores, a user's
 * sessions, the active backend's status and readiness. At start-up it makes the backend the
 * settings name active (joining a cross-replica handover in progress, if there is one); the
 * parts behind it are the backend factory, the active backend, the swap, the handover, the
 * settings listener and the sweeper.
 */
@Injectable()
export class SessionCacheService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SessionCacheService.name);

  /** A user's sessions through the active backend's per-user index (list, revoke). */
  readonly userSessions: UserSessions;

  constructor(
    private readonly settings: SettingsService,
    private readonly active: ActiveSessionBackend,
    private readonly factory: SessionBackendFactory,
    private readonly swaps: SessionSwap,
    private readonly handover: SessionHandover,
    private readonly readiness: ReadinessRegistry,
    private readonly follower: SessionCacheFollower,
  ) {
    this.userSessions = new UserSessions({
      backend: () => this.active.serving(),
      absoluteTimeoutMs: () => this.absoluteTimeoutMs(),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const kind = this.settings.current.values.sessionCache.backend;
    const { version } = await this.settings.lastChangeOf(BACKEND_KEY);
    const initial = this.active.backend;
    const previous =
      kind === 'memory' ? undefined : await this.handover.inProgressTo(kind, version);
    if (previous) {
      await this.swaps.join(
        await this.factory.build(previous, { waitForConnection: false }),
        await this.factory.build(kind, { waitForConnection: false }),
        version,
      );
      await initial.close();
    } else {
      this.active.use(await this.factory.build(kind, { waitForConnection: false }));
      await initial.close();
      // In the registry before it serves: a handover starting now waits for this replica too.
      await this.handover.report(
        { backend: kind, version, previous: null, readsPrevious: false },
        { register: true },
      );
    }
    this.readiness.register('sessionCache', () => this.ping());
    this.readiness.register('sessionCacheFollowsSettings', async () => this.follower.check());
    this.logger.log(`Session cache backend: ${kind}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.swaps.idle();
    const backend = this.active.backend;
    if (backend instanceof MigratingBackend) {
      await Promise.all([backend.source.close(), backend.target.close()]);
    } else {
      await backend.close();
    }
  }

  /**
   * An express-session store that delegates every call to the backend active at that moment,
   * so the middleware built on it never has to be rebuilt when the backend changes. One per
   * express-session middleware: express-session patches its own `generate` onto the store it is
   * given, so two middlewares (plain and TLS cookies) must not share one. `cookie`: the
   * attributes of that middleware's cookie.
   */
  createStore(cookie: SessionCookieAttributes): KeelSessionStore {
    return new KeelSessionStore({
      backend: () => this.active.serving(),
      cookie,
      idleTimeoutMs: () => this.settings.current.values.session.idleTimeoutSeconds * 1000,
      absoluteTimeoutMs: () => this.absoluteTimeoutMs(),
    });
  }

  /**
   * Ends every session of a user (but `exceptSessionId`) through the user index of the active
   * backend: what UsersModule binds its `UserSessionRevoker` to.
   */
  revokeAll(userId: string, exceptSessionId?: string): Promise<number> {
    return this.userSessions.destroyAll(userId, exceptSessionId);
  }

  /** The backend requests use now (during a swap: the migrating pair), as they reach it. */
  get backend(): SessionBackend {
    return this.active.serving();
  }

  /**
   * Every call requests make from now on (the stores, `backend`, `revokeAll`) goes through
   * `decorator(active backend)`. Set once at start-up; the metrics module counts calls with it.
   */
  decorateBackend(decorator: SessionBackendDecorator): void {
    this.active.decorate(decorator);
  }

  status(): SessionCacheStatus {
    return this.active.status();
  }

  /** Readiness: the active backend answers. */
  async ping(): Promise<void> {
    await this.active.backend.ping();
  }

  private absoluteTimeoutMs(): number {
    return this.settings.current.values.session.absoluteTimeoutSeconds * 1000;
  }
}
