import { Injectable } from '@nestjs/common';
import {
  RuntimeStateService,
  type SessionCacheStatus,
  type SessionCacheSwap,
} from '../runtime-state/runtime-state.service.js';
import { SettingsService } from '../settings/settings.service.js';
import { MemorySessionBackend } from './backends/memory-session.backend.js';
import { MigratingBackend } from './migrating-backend.js';
import { JournaledBackend, RecentWrites } from './recent-writes.js';
import type { SessionBackend } from './session-backend.js';

/** Wraps the backend requests reach, e.g. to count calls (metrics); given the active one. */
export type SessionBackendDecorator = (backend: SessionBackend) => SessionBackend;

/**
 * The backend requests use right now (during a swap: the migrating pair), and what this
 * process publishes about it (`/api/runtime`). Requests reach it through `serving()`: the
 * active backend with this replica's starts and ends journaled (a late replica carries them
 * over when it switches) and the metrics decorator around it.
 */
@Injectable()
export class ActiveSessionBackend {
  /**
   * Replaced at start-up (SessionCacheService's bootstrap hook, before the server listens) by
   * the backend the settings name, so it never holds a session: sized for none rather than
   * 100,000, whose index the LRU would allocate up front (14 ms of a one-core start).
   */
  private current: SessionBackend = new MemorySessionBackend({ maxEntries: 1 });
  private swapping = false;
  private progress: SessionCacheStatus['progress'] = null;
  private lastSwap: SessionCacheSwap | null = null;
  private decorator: SessionBackendDecorator | undefined;
  /** `current` as requests see it, rebuilt only when `current` changes. */
  private served: { backend: SessionBackend; decorated: SessionBackend } | undefined;
  /** The sessions this replica started or ended lately (see RecentWrites). */
  readonly journal = new RecentWrites();

  constructor(
    private readonly runtime: RuntimeStateService,
    private readonly settings: SettingsService,
  ) {}

  /** The active backend itself (undecorated). */
  get backend(): SessionBackend {
    return this.current;
  }

  /** Makes `backend` the one requests use from their next call on. */
  use(backend: SessionBackend): void {
    this.current = backend;
    this.publish();
  }

  /** The active backend as requests reach it (journaled, decorated). */
  serving(): SessionBackend {
    if (this.served?.backend !== this.current) {
      const journaled = needsJournal(this.current)
        ? new JournaledBackend(this.current, this.journal)
        : this.current;
      this.served = {
        backend: this.current,
        decorated: this.decorator ? this.decorator(journaled) : journaled,
      };
    }
    return this.served.decorated;
  }

  /** Set once at start-up; the metrics module counts calls with it. */
  decorate(decorator: SessionBackendDecorator): void {
    this.decorator = decorator;
    this.served = undefined;
  }

  status(): SessionCacheStatus {
    return {
      backend: this.current.kind,
      desired: this.settings.current.values.sessionCache.backend,
      shared: this.current.shared,
      swapping: this.swapping,
      progress: this.progress,
      lastSwap: this.lastSwap,
    };
  }

  /**
   * True while this replica serves another backend than the settings name, outside a swap or
   * handover (which moves it there): it could not follow them.
   */
  get diverged(): boolean {
    const { backend, desired, swapping } = this.status();
    return backend !== desired && !swapping;
  }

  swapStarted(): void {
    this.swapping = true;
    this.publish();
  }

  /** How far the copy is; null once it is over. */
  swapProgress(progress: SessionCacheStatus['progress']): void {
    this.progress = progress;
    this.publish();
  }

  /** The swap's outcome: its copy is done (or it failed). */
  swapReported(outcome: SessionCacheSwap): void {
    this.lastSwap = outcome;
    this.progress = null;
    this.publish();
  }

  /** No swap or handover in progress any more. */
  swapEnded(): void {
    this.swapping = false;
    this.progress = null;
    this.publish();
  }

  /** Publishes the status again (the settings moved, say). */
  publish(): void {
    this.runtime.setSessionCacheStatus(this.status());
  }
}

/**
 * Whether this replica's starts and ends on `backend` must be journaled. Not on a backend no
 * other replica reads (memory): a swap away from it copies every session it holds, and never
 * reads the journal; the journal would only keep up to 100,000 session ids for ten minutes
 * (10 MiB with 100,000 sign-ins). A swap in progress still journals, whatever its target: if it
 * fails, its source is served again, and a later swap may need what was written meanwhile.
 */
function needsJournal(backend: SessionBackend): boolean {
  return backend.shared || backend instanceof MigratingBackend;
}
