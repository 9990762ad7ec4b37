/** What a replica tells the others after it persisted a settings change. */
export interface SettingsAnnouncement {
  /** The version now stored. Receivers reload from the database; the message carries no values. */
  readonly version: number;
  /** Who persisted it: that replica ignores its own announcement. */
  readonly instanceId: string;
}

export interface ListenOptions {
  /** Aborted at shutdown: stop listening and resolve. */
  readonly signal: AbortSignal;
  readonly onAnnouncement: (announcement: SettingsAnnouncement) => void;
  /** Called once the subscription is in place, so the caller can catch up on what it missed. */
  readonly onSubscribed: () => void;
}

/**
 * Carries "settings changed" between replicas. The message is only a nudge: a receiver reloads
 * the settings from the database (the single source of truth), so a lost, repeated or late
 * message costs nothing but latency, and the reconciliation catches up on lost ones.
 */
export interface SettingsAnnouncer {
  /** For logs, e.g. `Redis channel keel:settings`. */
  readonly description: string;
  /** Sends one announcement; rejects when the channel cannot be reached. */
  announce(announcement: SettingsAnnouncement): Promise<void>;
  /**
   * Subscribes on a connection of its own and delivers announcements until `signal` aborts
   * (then resolves). Rejects as soon as that connection is lost: reconnecting is the caller's
   * (a supervised task restarted with backoff), so every outage is counted and visible.
   */
  listen(options: ListenOptions): Promise<void>;
  /** Releases connections; idempotent. */
  close(): Promise<void>;
}

/** The announcer of this deployment, or null on SQLite (one process, nothing to tell). */
export const SETTINGS_ANNOUNCER = Symbol('SETTINGS_ANNOUNCER');

/** Parses an announcement; anything else on the channel is ignored. */
export function parseAnnouncement(text: string): SettingsAnnouncement | undefined {
  try {
    const value = JSON.parse(text) as Partial<SettingsAnnouncement>;
    if (Number.isSafeInteger(value.version) && typeof value.instanceId === 'string') {
      return { version: value.version!, instanceId: value.instanceId };
    }
  } catch {
    // not ours
  }
  return undefined;
}

/** The client name a replica's subscriber connection carries (Redis CLIENT LIST, pg_stat_activity). */
export function subscriberName(instanceId: string): string {
  return `keel-settings-subscriber:${instanceId}`;
}
