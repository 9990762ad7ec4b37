import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { onEventOf, TypedEvents } from '../common/typed-events.js';
import type { SessionCacheSwap } from '../runtime-state/runtime-state.service.js';
import type { SettingsChangedEvent } from '../settings/settings.events.js';
import type { SessionBackendKind } from './session-backend.js';

/** Events of the session cache, by name, with their payloads. */
export const SessionCacheEvent = {
  /** After every swap this process ran, succeeded or failed (`error` set). */
  Swapped: 'session-cache.swapped',
} as const;

export interface SessionCacheEventMap {
  [SessionCacheEvent.Swapped]: SessionCacheSwap;
}

/** The session cache's events, emitted with their payloads checked against SessionCacheEventMap. */
@Injectable()
export class SessionCacheEvents extends TypedEvents<SessionCacheEventMap> {
  constructor(emitter: EventEmitter2) {
    super(emitter);
  }
}

/** `@OnEvent` for a session-cache event: the listener's parameter must take the payload. */
export const OnSessionCacheEvent = onEventOf<SessionCacheEventMap>();

/** A swap's outcome as it is published, logged and counted (`error` set when it failed). */
export function swapOutcome(swap: {
  from: SessionBackendKind;
  to: SessionBackendKind;
  /** Epoch ms. */
  started: number;
  migrated: number;
}): SessionCacheSwap {
  return {
    from: swap.from,
    to: swap.to,
    at: new Date(swap.started).toISOString(),
    migrated: swap.migrated,
    durationMs: Date.now() - swap.started,
  };
}

/** The fields of a swap's log line, for searching logs by outcome or backend. */
export function swapLogFields(swap: SessionCacheSwap, origin: SettingsChangedEvent['origin']) {
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
