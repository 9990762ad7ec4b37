import { Injectable, type OnModuleInit } from '@nestjs/common';
import { TaskSupervisor } from '../tasks/task-supervisor.js';
import { SettingsService } from '../settings/settings.service.js';
import { ActiveSessionBackend } from './active-session-backend.js';
import { BACKEND_KEY } from './session-cache-settings.listener.js';
import { SessionSwap } from './session-swap.js';

/** How often a replica checks that it serves the backend the settings name. */
const CHECK_INTERVAL_MS = 1000;
/** Its attempts to follow them, when it does not: 1 s doubling to 30 s. */
const RETRY_BACKOFF = Object.freeze({ initialMs: 1000, maxMs: 30_000 });

/**
 * A replica that could not follow a stored change of `sessionCache.backend` (the new backend
 * did not answer it when the change reached it) keeps trying: `session-cache-follow`, a
 * supervised task, checks every second and, while this replica serves another backend than the
 * settings name, swaps to it; a failed attempt is a crash of the task, so the supervisor backs
 * off (1 s doubling to 30 s), counts it and logs one line per attempt. Meanwhile `/api/runtime`
 * shows `desired` beside `backend`, `keel_session_cache_backend_diverged` is 1, and readiness
 * check `sessionCacheFollowsSettings` fails (outside a swap or handover in progress), so traffic
 * goes to the replicas that follow the settings.
 */
@Injectable()
export class SessionCacheFollower implements OnModuleInit {
  constructor(
    private readonly active: ActiveSessionBackend,
    private readonly swaps: SessionSwap,
    private readonly settings: SettingsService,
    private readonly tasks: TaskSupervisor,
  ) {}

  onModuleInit(): void {
    this.tasks.registerPeriodic({
      name: 'session-cache-follow',
      critical: false,
      intervalMs: CHECK_INTERVAL_MS,
      // None: a run is a whole swap (a copy of every session), which must not be abandoned
      // halfway; the swap bounds its own waits.
      timeoutMs: null,
      backoff: RETRY_BACKOFF,
      run: () => this.follow(),
    });
  }

  /** Readiness (`sessionCacheFollowsSettings`): fails while this replica could not follow. */
  check(): void {
    if (!this.active.diverged) return;
    const { backend, desired } = this.active.status();
    throw new Error(
      `this replica serves the ${backend} session backend but the settings name ${desired}: it keeps trying to switch (see session-cache-follow in /api/runtime)`,
    );
  }

  private async follow(): Promise<void> {
    if (!this.active.diverged) return;
    const { backend, desired } = this.active.status();
    const change = await this.settings.lastChangeOf(BACKEND_KEY);
    try {
      await this.swaps.swap(
        desired,
        { version: change.version, changedAt: change.at },
        { quiet: true },
      );
    } catch (error) {
      throw new Error(
        `Session cache serves ${backend} but the settings name ${desired} (since version ${change.version}); switching failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }
}
