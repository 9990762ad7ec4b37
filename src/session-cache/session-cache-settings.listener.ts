import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { ErrorCode } from '../http/error-codes.js';
import {
  type PreflightVerdict,
  SettingsEvent,
  type SettingsChangedEvent,
  type SettingsPreflightEvent,
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

  @OnEvent(SettingsEvent.Preflight, { suppressErrors: false })
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

  @OnEvent(SettingsEvent.Changed, { suppressErrors: false })
  async onSettingsChanged(event: SettingsChangedEvent): Promise<void> {
    const kind = event.next.values.sessionCache.backend;
    if (event.origin === 'local') {
      if (!event.changedKeys.includes(BACKEND_KEY)) return;
      await this.swaps.swap(kind, 'local', {
        version: event.next.version,
        changedAt: event.next.updatedAt,
      });
      return;
    }
    // Another replica's change, maybe several at once (this one skipped versions): the
    // handover is named by the version that set the backend, which the history tells.
    const change = await this.settings.lastChangeOf(BACKEND_KEY);
    if (event.changedKeys.includes(BACKEND_KEY)) {
      await this.swaps.swap(kind, 'remote', { version: change.version, changedAt: change.at });
    } else if (change.version > event.previous.version) {
      await this.swaps.confirm(kind, change.version);
    }
  }
}
