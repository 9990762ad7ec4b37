import type { MigratingBackend } from './migrating-backend.js';
import type { RecentWritesTaken } from './recent-writes.js';
import type { SessionBackend } from './session-backend.js';

/** How long a finished swap waits for calls still running on the old backend before closing it. */
export const DRAIN_TIMEOUT_MS = 5000;
/** Sessions copied at once during a swap. */
const COPY_CONCURRENCY = 64;

/**
 * Copies every session of `source` through `pair.migrate`, `COPY_CONCURRENCY` at a time: one by
 * one, network round trips would make a 10,000-session swap take minutes under load.
 */
export async function copyAll(
  source: SessionBackend,
  pair: MigratingBackend,
  onProgress: (visited: number) => void,
): Promise<number> {
  let migrated = 0;
  let visited = 0;
  let batch: Promise<boolean>[] = [];
  const settle = async () => {
    migrated += (await Promise.all(batch)).filter(Boolean).length;
    visited += batch.length;
    batch = [];
    onProgress(visited);
  };
  for await (const session of source.entries()) {
    batch.push(pair.migrate(session.sid));
    if (batch.length >= COPY_CONCURRENCY) await settle();
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
