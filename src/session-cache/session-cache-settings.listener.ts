import { Injectable } from '@nestjs/common';
import { ErrorCode } from '../http/error-codes.js';
import {
  type PreflightVerdict,
  type PrepareResult,
  OnSettingsEvent,
  SettingsEvent,
  type SettingsChangedEvent,
  type SettingsPreflightEvent,
  type SettingsPrepareEvent,
} from '../settings/settings.events.js';
import { SettingsService } from '../settings/settings.service.js';
import { ActiveSessionBackend } from './active-session-backend.js';
import { SessionBackendFactory } from './session-backend-factory.js';
import { SessionSwap } from './session-swap.js';

export const BACKEND_KEY = 'sessionCache.backend';

/**
 * Where settings meet the session cache: a change of `sessionCache.backend` is checked before it
 * is persisted (the new backend must answer, else the change is refused and nothing changes)
 * and applied by a live swap once it is. Any other settings change never rebuilds the backend.
 */
@Injectable()
export class SessionCacheSettingsListener {
  constructor(
    private readonly active: ActiveSessionBackend,
    private readonly factory: SessionBackendFactory,
    private readonly swaps: SessionSwap,
    private readonly settings: SettingsService,
  ) {}

  @OnSettingsEvent(SettingsEvent.Preflight, { suppressErrors: false })
  async preflight(event: SettingsPreflightEvent): Promise<PreflightVerdict> {
    if (!event.changedKeys.includes(BACKEND_KEY)) return undefined;
    const kind = event.proposed.sessionCache.backend;
    // One swap at a time across the replicas: the previous one first finishes everywhere (its
    // handover waits for every live replica, within the handover limit), so no replica can
    // skip a backend another one is still handing over.
    await this.swaps.idle();
    try {
      await this.factory.check(kind);
      return undefined;
    } catch (error) {
      return {
        refuse: true,
        status: 422,
        code: ErrorCode.BackendUnavailable,
        message: `The ${kind} session backend cannot be reached, so the session cache stays on ${
          this.active.backend.kind
        }: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  /**
   * On the replica that accepts a change of backend, before it is stored: the swap (its copy),
   * so the change is stored only once this replica serves the new backend. A swap that fails
   * leaves the old backend in force and the change refused (`503 swap_failed`).
   */
  @OnSettingsEvent(SettingsEvent.Prepare, { suppressErrors: false })
  async prepare(event: SettingsPrepareEvent): Promise<PrepareResult> {
    if (!event.changedKeys.includes(BACKEND_KEY)) return undefined;
    const kind = event.proposed.sessionCache.backend;
    try {
      return await this.swaps.prepare(kind, { version: event.version, changedAt: event.at });
    } catch (error) {
      return {
        failed: true,
        status: 503,
        code: ErrorCode.SwapFailed,
        message: `Moving the sessions to ${kind} failed, so nothing changed and the session cache stays on ${
          this.active.backend.kind
        } with every session: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  /**
   * Another replica's change, maybe several at once (this one skipped versions): the handover
   * is named by the version that set the backend, which the history tells. (This replica's own
   * changes were put in force by `prepare`.)
   */
  @OnSettingsEvent(SettingsEvent.Changed, { suppressErrors: false })
  async onSettingsChanged(event: SettingsChangedEvent): Promise<void> {
    const backendChanged = event.changedKeys.includes(BACKEND_KEY);
    // From this instant the settings name another backend than the one served: say a swap is
    // under way (synchronously, before any await), so readiness does not take this replica
    // for one that cannot follow.
    if (backendChanged && event.origin === 'remote') this.active.swapStarted();
    else this.active.publish();
    if (event.origin === 'local') return;
    const kind = event.next.values.sessionCache.backend;
    let change: { version: number; at: number };
    try {
      change = await this.settings.lastChangeOf(BACKEND_KEY);
    } catch (error) {
      // No swap starts after all: SessionCacheFollower sees the divergence and tries again.
      if (backendChanged) this.active.swapEnded();
      throw error;
    }
    if (backendChanged) {
      // A failure is logged by the swap and taken up by SessionCacheFollower, which keeps
      // trying: it is not this listener's to report.
      await this.swaps
        .swap(kind, { version: change.version, changedAt: change.at })
        .catch(() => undefined);
    } else if (change.version > event.previous.version) {
      await this.swaps.confirm(kind, change.version);
    }
  }
}
