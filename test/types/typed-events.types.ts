// Type tests, checked by `npm run typecheck` (tsc), never run: each `@ts-expect-error` line
// must fail to compile, else the directive itself is an error. They show that an event emitted
// with the wrong payload, or listened to with the wrong parameter, does not compile.
import {
  OnSettingsEvent,
  SettingsEvent,
  type SettingsChangedEvent,
  type SettingsCommittedEvent,
  SettingsEvents,
  type SettingsPreflightEvent,
} from '../../src/settings/settings.events.js';
import {
  OnSessionCacheEvent,
  SessionCacheEvent,
  type SessionCacheEvents,
} from '../../src/session-cache/session-cache.events.js';

declare const settingsEvents: SettingsEvents;
declare const sessionCacheEvents: SessionCacheEvents;
declare const changed: SettingsChangedEvent;

export function emitting(): void {
  settingsEvents.emit(SettingsEvent.Committed, { version: 3 });
  // @ts-expect-error: the version of a committed change is a number
  settingsEvents.emit(SettingsEvent.Committed, { version: '3' });
  // @ts-expect-error: settings.changed carries a SettingsChangedEvent, not a committed one
  void settingsEvents.emitAsync(SettingsEvent.Changed, { version: 3 });
  // @ts-expect-error: an event the map does not have
  settingsEvents.emit('settings.chnaged', changed);
  // @ts-expect-error: a session-cache event on the settings emitter
  settingsEvents.emit(SessionCacheEvent.Swapped, changed);
  // @ts-expect-error: a swap outcome has from, to, at, migrated and durationMs
  sessionCacheEvents.emit(SessionCacheEvent.Swapped, { from: 'memory' });
}

export class Listeners {
  @OnSettingsEvent(SettingsEvent.Changed)
  onChanged(event: SettingsChangedEvent): void {
    void event.next.version;
  }

  // @ts-expect-error: listening to the preflight with a changed-event parameter
  @OnSettingsEvent(SettingsEvent.Preflight)
  onPreflight(event: SettingsChangedEvent): void {
    void event;
  }

  // @ts-expect-error: the committed event's payload is not a preflight event
  @OnSettingsEvent(SettingsEvent.Committed)
  onCommitted(event: SettingsPreflightEvent): void {
    void event;
  }

  // @ts-expect-error: a swap outcome is not a committed settings event
  @OnSessionCacheEvent(SessionCacheEvent.Swapped)
  onSwapped(event: SettingsCommittedEvent): void {
    void event;
  }
}
