import type { ErrorCode } from '../http/error-codes.js';
import type { RuntimeSettingsValues } from './settings.schema.js';

/** One immutable, versioned view of the runtime settings; replaced whole on every change. */
export interface SettingsSnapshot {
  readonly version: number;
  readonly values: Readonly<RuntimeSettingsValues>;
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

/** Applied locally after a change was persisted (here or, announced, on another replica). */
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
  Changed: 'settings.changed',
  Committed: 'settings.committed',
} as const;

export interface SettingsEventMap {
  [SettingsEvent.Preflight]: SettingsPreflightEvent;
  [SettingsEvent.Changed]: SettingsChangedEvent;
  [SettingsEvent.Committed]: SettingsCommittedEvent;
}

/** What a preflight listener returns: nothing to allow, a refusal to block. */
export type PreflightVerdict = PreflightRefusal | undefined | void;
