import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';

/** Event names and their payloads: `{'settings.changed': SettingsChangedEvent, ...}`. */
export type EventMap<Events> = { [Name in keyof Events]: object };

type OnEventOptions = Parameters<typeof OnEvent>[1];

/**
 * EventEmitter2 as a module's events go through it: an event that is not in `Events`, or a
 * payload of another shape, does not compile. Each module makes one for its own map
 * (`SettingsEvents`, `SessionCacheEvents`) and listens with the decorator `onEventOf` gives.
 */
export class TypedEvents<Events extends EventMap<Events>> {
  constructor(private readonly emitter: EventEmitter2) {}

  /** Calls the listeners; a listener's promise is not awaited. */
  emit<Name extends keyof Events & string>(event: Name, payload: Events[Name]): void {
    this.emitter.emit(event, payload);
  }

  /** Calls the listeners and awaits them; resolves to what each returned. */
  emitAsync<Name extends keyof Events & string>(
    event: Name,
    payload: Events[Name],
  ): Promise<unknown[]> {
    return this.emitter.emitAsync(event, payload);
  }
}

/**
 * `@OnEvent` for the events of `Events`: a listener whose parameter cannot take the event's
 * payload, or an event that is not in the map, does not compile.
 *
 *   export const OnSettingsEvent = onEventOf<SettingsEventMap>();
 *   @OnSettingsEvent(SettingsEvent.Changed) onChanged(event: SettingsChangedEvent) {...}
 */
export function onEventOf<Events extends EventMap<Events>>() {
  return <Name extends keyof Events & string>(event: Name, options?: OnEventOptions) =>
    <Listener extends (payload: Events[Name]) => unknown>(
      target: object,
      key: string | symbol,
      descriptor: TypedPropertyDescriptor<Listener>,
    ): void => {
      OnEvent(event, options)(target, key, descriptor);
    };
}
