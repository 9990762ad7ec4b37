import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { onEventOf, TypedEvents } from '../common/typed-events.js';
import type { ErrorCode } from '../http/error-codes.js';
import type { RuntimeSettingsValues } from './settings.schema.js';
import type { SettingSource } from './settings-values.js';

/** One immutable, versioned view of the runtime settings; replaced whole on every change. */
export interface SettingsSnapshot {
  readonly version: number;
  readonly values: Readonly<RuntimeSettingsValues>;
  /** Per dotted key, where its value comes from. */
  readonly sources: Readonly<Record<string, SettingSource>>;
  readonly updatedAt: number;
}

/** Asked before a change is persisted; any listener may refuse it. */
export interface SettingsPreflightEvent {
  readonly current: SettingsSnapshot;
  readonly proposed: Readonly<RuntimeSettingsValues>;
  /** Dotted keys whose value would change, e.g. `sessionCache.backend`. */
  readonly changedKeys: readonly string[];
}

/** A preflight listener's "no": the change is refused with this status and code. */
export interface PreflightRefusal {
  readonly refuse: true;
  readonly status?: number;
  readonly code?: ErrorCode;
  readonly message: string;
}

/**
 * Asked after the preflight and before the change is persisted, on the replica that accepts
 * it: a listener that must *do* something for the change to stand (the session cache's swap)
 * does it now, so that a change is persisted only once this replica serves it.
 */
export interface SettingsPrepareEvent {
  readonly current: SettingsSnapshot;
  readonly proposed: Readonly<RuntimeSettingsValues>;
  readonly changedKeys: readonly string[];
  /** The version the change will have if it is persisted. */
  readonly version: number;
  /** When it is being made (epoch ms). */
  readonly at: number;
}

/**
 * A prepare listener's work, done and in force: `commit` once the change is persisted, `abort`
 * (undo it) if it is not. Neither may throw.
 */
export interface PreparedChange {
  commit(): Promise<void>;
  abort(reason: string): Promise<void>;
}

/** A prepare listener that could not do its work; it has undone what it did. */
export interface PrepareFailure {
  readonly failed: true;
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
}

/** What a prepare listener returns: nothing to do, its work, or why it failed. Never a throw. */
export type PrepareResult = PreparedChange | PrepareFailure | undefined | void;

/**
 * Applied locally after a change was persisted (here or, announced, on another replica). On the
 * replica that accepted it, what the prepare listeners did is in force already.
 */
export interface SettingsChangedEvent {
  readonly previous: SettingsSnapshot;
  readonly next: SettingsSnapshot;
  readonly changedKeys: readonly string[];
  /** `local`: this process persisted it; `remote`: learned from the database after an announcement. */
  readonly origin: 'local' | 'remote';
}

/** Emitted on the replica that persisted a change, so it can be announced to the others. */
export interface SettingsCommittedEvent {
  readonly version: number;
}

/** Every settings event name and its payload, so emitters and listeners cannot drift apart. */
export const SettingsEvent = {
  Preflight: 'settings.preflight',
  Prepare: 'settings.prepare',
  Changed: 'settings.changed',
  Committed: 'settings.committed',
} as const;

export interface SettingsEventMap {
  [SettingsEvent.Preflight]: SettingsPreflightEvent;
  [SettingsEvent.Prepare]: SettingsPrepareEvent;
  [SettingsEvent.Changed]: SettingsChangedEvent;
  [SettingsEvent.Committed]: SettingsCommittedEvent;
}

/** What a preflight listener returns: nothing to allow, a refusal to block. */
export type PreflightVerdict = PreflightRefusal | undefined | void;

/** The settings events, emitted with their payloads checked against SettingsEventMap. */
@Injectable()
export class SettingsEvents extends TypedEvents<SettingsEventMap> {
  constructor(emitter: EventEmitter2) {
    super(emitter);
  }
}

/** `@OnEvent` for a settings event: the listener's parameter must take the event's payload. */
export const OnSettingsEvent = onEventOf<SettingsEventMap>();
