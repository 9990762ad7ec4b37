import type { MigratingBackend } from './migrating-backend.js';
import type { RecentWritesTaken } from './recent-writes.js';
import type { SessionBackend } from './session-backend.js';

/** How long a finished swap waits for calls still running on the old backend before closing it. */
export const DRAIN_TIMEOUT_MS = 5000;
/** Sessions carried over at once (one by one, each a few round trips). */
const COPY_CONCURRENCY = 64;
/** Sessions copied per bulk write (`MigratingBackend.migrateMany`); tuned with bench/swap.js. */
export const COPY_BATCH_SIZE = 1000;

/**
 * Copies every session of `source` through `pair.migrateMany`, `COPY_BATCH_SIZE` at a time: a
 * batch costs a few round trips, not a few per session, which under load made a
 * 10,000-session swap take seconds.
 */
export async function copyAll(
  source: SessionBackend,
  pair: MigratingBackend,
  onProgress: (visited: number) => void,
): Promise<number> {
  let migrated = 0;
  let visited = 0;
  let batch: string[] = [];
  const settle = async () => {
    if (batch.length > 0) migrated += await pair.migrateMany(batch);
    visited += batch.length;
    batch = [];
    onProgress(visited);
  };
  for await (const session of source.entries()) {
    batch.push(session.sid);
    if (batch.length >= COPY_BATCH_SIZE) await settle();
  }
  await settle();
  return migrated;
}

/**
 * Carries over what this replica started or ended in the old backend alone (RecentWrites) into
 * the new one, `COPY_CONCURRENCY` at a time. Resolves to the sessions copied.
 */
export async function carryOver(
  written: RecentWritesTaken,
  pair: MigratingBackend,
): Promise<number> {
  let copied = 0;
  for (let start = 0; start < written.started.length; start += COPY_CONCURRENCY) {
    const batch = written.started.slice(start, start + COPY_CONCURRENCY);
    copied += (await Promise.all(batch.map((sid) => pair.carryOverStarted(sid)))).filter(
      Boolean,
    ).length;
  }
  for (let start = 0; start < written.ended.length; start += COPY_CONCURRENCY) {
    const batch = written.ended.slice(start, start + COPY_CONCURRENCY);
    await Promise.all(batch.map((sid) => pair.carryOverEnded(sid)));
  }
  return copied;
}

/** Closes `backend` once calls still running on `pair` have ended (or the drain timed out). */
export async function closeWhenDrained(
  pair: MigratingBackend | undefined,
  backend: SessionBackend,
): Promise<void> {
  await pair?.drained(DRAIN_TIMEOUT_MS);
  await backend.close().catch(() => undefined);
}
