/**
 * How often replicas tell each other they are alive and check they agree. Fixed in production;
 * tests that start several replicas shorten them by overriding the `REPLICA_TIMINGS` provider
 * (startTestApp's `overrideProviders`, or the test server's KEEL_TEST_REPLICA_TIMINGS).
 */
export interface ReplicaTimings {
  /** Each process upserts its registry row this often. */
  readonly heartbeatIntervalMs: number;
  /** Each process compares the stored settings version with its own this often (a missed announcement). */
  readonly reconcileIntervalMs: number;
}

export const REPLICA_TIMINGS = Symbol('REPLICA_TIMINGS');

export const DEFAULT_REPLICA_TIMINGS: ReplicaTimings = Object.freeze({
  heartbeatIntervalMs: 5000,
  reconcileIntervalMs: 5000,
});

/** A replica is live while its heartbeat is younger than this many intervals. */
export const LIVE_HEARTBEATS = 3;
/** Rows of replicas silent for this many intervals are deleted (a killed pod never deletes its own). */
export const EXPIRE_HEARTBEATS = 10;

/**
 * The longest a session-cache swap keeps the old backend in use while it waits for every live
 * replica to switch: long enough for a replica that missed the announcement to catch up through
 * the reconciliation, and for a dead replica's row to stop counting as live.
 */
export function handoverLimitMs(timings: ReplicaTimings): number {
  return Math.max(
    (LIVE_HEARTBEATS + 1) * timings.heartbeatIntervalMs,
    3 * timings.reconcileIntervalMs,
  );
}
