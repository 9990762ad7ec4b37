import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

/** `starting` until bootstrap finished, `ready` while serving, `draining` once shutdown began. */
export type Phase = 'starting' | 'ready' | 'draining';

export type SessionBackendName = 'memory' | 'database' | 'redis';

export interface SessionCacheSwap {
  readonly from: SessionBackendName;
  readonly to: SessionBackendName;
  /** ISO 8601. */
  readonly at: string;
  /** Sessions copied to the new backend. */
  readonly migrated: number;
  readonly durationMs: number;
  /** Set when the swap failed and the old backend stayed in force. */
  readonly error?: string;
}

/** What `/api/runtime` shows about the session cache; published whole by the session-cache module. */
export interface SessionCacheStatus {
  /** The backend this replica serves (during a swap, the one it moves to). */
  readonly backend: SessionBackendName;
  /** The backend the settings name: different from `backend` while this replica cannot follow them. */
  readonly desired: SessionBackendName;
  /** False for a process-local backend (memory): sessions exist on this replica only. */
  readonly shared: boolean;
  /** True from the start of a swap to the end of its cross-replica handover. */
  readonly swapping: boolean;
  /** How far the copy of the swap in progress is; null outside a copy. */
  readonly progress: { readonly migrated: number; readonly total: number } | null;
  readonly lastSwap: SessionCacheSwap | null;
}

export interface BrokenState {
  readonly reason: string;
  /** ISO 8601. */
  readonly since: string;
}

export interface ListenerFailure {
  /** Who reported it, e.g. `settings.changed`. */
  readonly source: string;
  readonly message: string;
  /** ISO 8601. */
  readonly at: string;
}

/** A stored runtime setting that failed validation when it was loaded; its default is in force. */
export interface InvalidSetting {
  /** Dotted, e.g. `auth.loginMaxAttempts`, or a whole group (`session`). */
  readonly key: string;
  readonly message: string;
}

/** How many listener failures are kept: enough to see a pattern, bounded so a loop can't grow it. */
export const LISTENER_FAILURES_KEPT = 20;

const DEFAULT_SESSION_CACHE_STATUS: SessionCacheStatus = Object.freeze({
  backend: 'memory',
  desired: 'memory',
  shared: false,
  swapping: false,
  progress: null,
  lastSwap: null,
});

/**
 * This process's runtime state: who it is (`instanceId`, `startedAt`), where it is in its life
 * (`phase`), whether it gave up on itself (`broken`), and what other modules published about
 * themselves (session-cache status, listener failures).
 *
 * Concurrency model (docs/architecture.md, "Runtime state and concurrency"): everything here is
 * per process; replicas share only what lives in the database or Redis. Node runs one callback
 * at a time, so a reader never sees a half-made change as long as each value is replaced whole:
 * published values are frozen snapshots, swapped by assignment and never mutated in place, so
 * a reader that took one keeps a consistent (possibly just superseded) view.
 */
@Injectable()
export class RuntimeStateService {
  private readonly logger = new Logger(RuntimeStateService.name);
  readonly instanceId: string = randomUUID();
  readonly startedAt: Date = new Date();
  private currentPhase: Phase = 'starting';
  private bootstrapped = false;
  private brokenState: BrokenState | null = null;
  private sessionCache: SessionCacheStatus = DEFAULT_SESSION_CACHE_STATUS;
  private failures: readonly ListenerFailure[] = Object.freeze([]);
  private invalid: readonly InvalidSetting[] = Object.freeze([]);
  private heldSettingsVersion = 0;
  private readonly readyListeners: (() => void)[] = [];
  private readonly statusListeners = new Set<() => void>();
  private readonly drainingController = new AbortController();

  get phase(): Phase {
    return this.currentPhase;
  }

  /** True once every `onApplicationBootstrap` hook finished and the server listens; stays true. */
  get isBootstrapped(): boolean {
    return this.bootstrapped;
  }

  /** Why the process gave up on itself (liveness fails), or null while it is healthy. */
  get broken(): BrokenState | null {
    return this.brokenState;
  }

  get sessionCacheStatus(): SessionCacheStatus {
    return this.sessionCache;
  }

  /** The settings version this process holds (0 before they are loaded). */
  get settingsVersion(): number {
    return this.heldSettingsVersion;
  }

  /** Published by the settings module whenever it takes another version. */
  setSettingsVersion(version: number): void {
    if (version === this.heldSettingsVersion) return;
    this.heldSettingsVersion = version;
    this.notifyStatus();
  }

  /**
   * Aborted when draining begins. Long requests (the console's event stream) end on it, so
   * they neither hold up shutdown nor keep a client on a replica that is going away.
   */
  get drainingSignal(): AbortSignal {
    return this.drainingController.signal;
  }

  /**
   * Calls `listener` after the session-cache status or the settings version changed (what other
   * replicas show of this one); returns the way to stop. Listeners must not throw.
   */
  onStatusChange(listener: () => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Stored settings the settings module could not use (their defaults are in force). */
  get invalidSettings(): readonly InvalidSetting[] {
    return this.invalid;
  }

  /** Published by the settings module whenever it loads a version; empty once they are fixed. */
  setInvalidSettings(invalid: readonly InvalidSetting[]): void {
    this.invalid = Object.freeze(invalid.map((entry) => Object.freeze({ ...entry })));
  }

  /** The most recent failures reported through `reportListenerFailure`, oldest first. */
  get listenerFailures(): readonly ListenerFailure[] {
    return this.failures;
  }

  /**
   * Start-up is over: every `onApplicationBootstrap` hook ran (migrations, settings load, cache
   * configuration) and the server listens. Called by `serve()` (main.ts) and by the test app
   * right after `listen()`, because Nest runs all bootstrap hooks inside `listen()`.
   */
  markReady(): void {
    if (this.bootstrapped) return;
    this.bootstrapped = true;
    if (this.currentPhase === 'starting') this.changePhase('ready');
    for (const listener of this.readyListeners.splice(0)) listener();
  }

  /** Runs `listener` once the instance is ready (at once if it already is). */
  onReady(listener: () => void): void {
    if (this.bootstrapped) listener();
    else this.readyListeners.push(listener);
  }

  /** Shutdown began: readiness fails from now on; there is no way back. */
  markDraining(): void {
    this.changePhase('draining');
    this.drainingController.abort();
  }

  /**
   * The process can no longer do its job and should be restarted: liveness answers 503 with
   * `reason` from now on. The first reason is kept (it is the root cause); later ones are logged.
   */
  markBroken(reason: string): void {
    this.logger.error(`Process marked broken, liveness now fails: ${reason}`);
    if (this.brokenState) return;
    this.brokenState = Object.freeze({ reason, since: new Date().toISOString() });
  }

  /**
   * An event listener (e.g. the one applying `settings.changed`) failed on this replica. It is
   * logged and kept in a short list shown by `/api/runtime`; it does not fail any probe.
   */
  reportListenerFailure(source: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.logger.error(
      `Listener ${source} failed: ${message}`,
      error instanceof Error ? error.stack : undefined,
    );
    const failure = Object.freeze({ source, message, at: new Date().toISOString() });
    this.failures = Object.freeze([...this.failures, failure].slice(-LISTENER_FAILURES_KEPT));
  }

  /** One structured line per phase change, for operators following an instance's life. */
  private changePhase(phase: Phase): void {
    const previous = this.currentPhase;
    if (previous === phase) return;
    this.currentPhase = phase;
    this.logger.log({ msg: `Phase ${previous} -> ${phase}`, phase, previousPhase: previous });
  }

  /** Published by the session-cache module whenever its backend or swap state changes. */
  setSessionCacheStatus(status: SessionCacheStatus): void {
    this.sessionCache = Object.freeze({
      backend: status.backend,
      desired: status.desired,
      shared: status.shared,
      swapping: status.swapping,
      progress: status.progress ? Object.freeze({ ...status.progress }) : null,
      lastSwap: status.lastSwap ? Object.freeze({ ...status.lastSwap }) : null,
    });
    this.notifyStatus();
  }

  private notifyStatus(): void {
    for (const listener of this.statusListeners) listener();
  }
}
