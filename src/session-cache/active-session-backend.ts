import { Injectable } from '@nestjs/common';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import { MemorySessionBackend } from './backends/memory-session.backend.js';
import { JournaledBackend, RecentWrites } from './recent-writes.js';
import type { SessionBackend, SessionBackendKind } from './session-backend.js';

export interface SessionSwapOutcome {
  from: SessionBackendKind;
  to: SessionBackendKind;
  at: string;
  migrated: number;
  durationMs: number;
  /** Set when the swap failed and the old backend stayed in force. */
  error?: string;
}

export interface SessionCacheStatus {
  backend: SessionBackendKind;
  shared: boolean;
  swapping: boolean;
  lastSwap: SessionSwapOutcome | null;
}

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
  /** Replaced at start-up by the backend the settings name; memory needs nothing. */
  private current: SessionBackend = new MemorySessionBackend();
  private swapping = false;
  private lastSwap: SessionSwapOutcome | null = null;
  private decorator: SessionBackendDecorator | undefined;
  /** `current` as requests see it, rebuilt only when `current` changes. */
  private served: { backend: SessionBackend; decorated: SessionBackend } | undefined;
  /** The sessions this replica started or ended lately (see RecentWrites). */
  readonly journal = new RecentWrites();

  constructor(private readonly runtime: RuntimeStateService) {}

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
      const journaled = new JournaledBackend(this.current, this.journal);
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
      shared: this.current.shared,
      swapping: this.swapping,
      lastSwap: this.lastSwap,
    };
  }

  swapStarted(): void {
    this.swapping = true;
    this.publish();
  }

  /** The swap's outcome: its copy is done (or it failed). */
  swapReported(outcome: SessionSwapOutcome): void {
    this.lastSwap = outcome;
    this.publish();
  }

  /** No swap or handover in progress any more. */
  swapEnded(): void {
    this.swapping = false;
    this.publish();
  }

  private publish(): void {
    this.runtime.setSessionCacheStatus(this.status());
  }
}
