import { performance } from 'node:perf_hooks';
import type { StoredSession } from '../session-backend.js';

export interface SessionReadCacheOptions {
  /**
   * True when other processes write the same sessions (PostgreSQL): entries are served only
   * while the lease is current, i.e. while this process has proof that it hears every change
   * notice (`renewLease`). False for one process alone (SQLite): it sees every write itself.
   */
  readonly leased: boolean;
  /** Oldest entries go first beyond this many. */
  readonly maxEntries?: number;
}

/** A working set this large costs tens of MiB; sessions beyond it are read from the database. */
export const DEFAULT_READ_CACHE_ENTRIES = 50_000;

/** A read of the backend in flight; `stale` once a change to its session was heard meanwhile. */
interface PendingRead {
  stale: boolean;
  readonly promise: Promise<StoredSession | undefined>;
}

/**
 * The sessions this process read from the database lately, so a request reads its session from
 * memory (Django's `cached_db`). Correctness rests on three rules:
 *
 * - every change is heard: this process's own writes invalidate here (ReadCachedSessionBackend,
 *   before and after the write), every other writer's through the database's change notices
 *   (a trigger, so no write can skip it), which `invalidate` on arrival;
 * - a read never stores what it read if a change to that session was heard while it was in
 *   flight (it would be the value from before the change), so an ended session cannot come
 *   back through a slow read;
 * - when leased, entries are served only while the lease is current: the notice channel proves
 *   itself every few hundred ms with an echo sent through the same ordered stream, so any notice
 *   committed before the echo was sent has been applied when the echo arrives. A lease that ran
 *   out (a lost connection, a stalled database) drops every entry: notices may have been missed.
 *
 * Concurrent misses for one session share one read.
 */
export class SessionReadCache {
  readonly leased: boolean;
  private readonly maxEntries: number;
  private readonly entries = new Map<string, StoredSession>();
  private readonly reads = new Map<string, PendingRead>();
  /** `performance.now()` until which entries may be served; never, until the first echo. */
  private leaseUntil = Number.NEGATIVE_INFINITY;
  private counts = { hits: 0, misses: 0 };

  constructor(options: SessionReadCacheOptions) {
    this.leased = options.leased;
    this.maxEntries = options.maxEntries ?? DEFAULT_READ_CACHE_ENTRIES;
  }

  /**
   * The session from memory when current, else from `read` (and kept, when nothing changed
   * meanwhile).
   */
  get(
    sid: string,
    read: (sid: string) => Promise<StoredSession | undefined>,
  ): Promise<StoredSession | undefined> {
    if (!this.serving()) {
      this.counts.misses += 1;
      return read(sid);
    }
    const hit = this.entries.get(sid);
    if (hit) {
      if (hit.expiresAt > Date.now()) {
        this.counts.hits += 1;
        return Promise.resolve({ ...hit });
      }
      this.entries.delete(sid);
    }
    this.counts.misses += 1;
    const pending = this.reads.get(sid);
    if (pending) return pending.promise.then((session) => session && { ...session });
    return this.readThrough(sid, read);
  }

  /**
   * A touch of `sid` by this process through `write`, which resolves to whether the database
   * held the session, live, and took the new expiry. A touch moves nothing but the expiry (and
   * last-seen time), so the entry stays served meanwhile, its expiry at worst early, and takes
   * the new one once the write has landed: the next request reads it from memory (and sees the
   * new expiry, so it does not touch again), not from the database. Kept only when the write
   * found the live row and the entry is the one there before it (a change heard meanwhile, or a
   * read that replaced it, wins); otherwise it goes, as after any write. Until a change notice
   * of another writer arrives the entry may still be served, as it would be without the touch
   * (within the lease).
   */
  async touch(
    sid: string,
    expiresAt: number,
    lastSeenAt: number,
    write: () => Promise<boolean>,
  ): Promise<void> {
    const before = this.entries.get(sid);
    let found: boolean;
    try {
      found = await write();
    } catch (error) {
      this.invalidate(sid); // it may have landed, or half of it: nothing is trusted
      throw error;
    }
    if (!found) {
      this.invalidate(sid);
      return;
    }
    if (before && this.entries.get(sid) === before) {
      before.expiresAt = expiresAt;
      before.lastSeenAt = lastSeenAt;
      // Used again: to the young end, so the oldest-first bound drops idle sessions first.
      this.entries.delete(sid);
      this.entries.set(sid, before);
    }
  }

  /** Forgets `sid`, and keeps a read of it in flight from storing what it read. */
  invalidate(sid: string): void {
    this.entries.delete(sid);
    const pending = this.reads.get(sid);
    if (pending) {
      pending.stale = true;
      this.reads.delete(sid);
    }
  }

  /** Forgets every session (and every read in flight): what was heard can no longer be trusted. */
  invalidateAll(): void {
    this.entries.clear();
    for (const pending of this.reads.values()) pending.stale = true;
    this.reads.clear();
  }

  /**
   * An echo sent at `sentAt` (`performance.now()`) came back through the notice channel: every
   * notice committed before then has been applied, so entries may be served until
   * `sentAt + leaseMs`. After a gap (the lease ran out first) everything cached goes: notices
   * sent during the gap may have been lost.
   */
  renewLease(sentAt: number, leaseMs: number): void {
    if (performance.now() > this.leaseUntil) this.invalidateAll();
    this.leaseUntil = Math.max(this.leaseUntil, sentAt + leaseMs);
  }

  /** Ends the lease at once (the notice channel is gone): nothing is served from memory. */
  endLease(): void {
    this.leaseUntil = Number.NEGATIVE_INFINITY;
    this.invalidateAll();
  }

  /** True while entries may be served (always, when not leased). */
  serving(): boolean {
    if (!this.leased || performance.now() <= this.leaseUntil) return true;
    if (this.entries.size > 0 || this.reads.size > 0) this.invalidateAll();
    return false;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Reads answered from memory and reads that went to the database, since start. */
  stats(): { hits: number; misses: number } {
    return { ...this.counts };
  }

  private readThrough(
    sid: string,
    read: (sid: string) => Promise<StoredSession | undefined>,
  ): Promise<StoredSession | undefined> {
    const pending: PendingRead = {
      stale: false,
      promise: read(sid).then(
        (session) => {
          if (this.reads.get(sid) === pending) this.reads.delete(sid);
          if (session && !pending.stale && this.serving()) this.keep(session);
          return session;
        },
        (error: unknown) => {
          if (this.reads.get(sid) === pending) this.reads.delete(sid);
          throw error;
        },
      ),
    };
    this.reads.set(sid, pending);
    return pending.promise;
  }

  private keep(session: StoredSession): void {
    this.entries.delete(session.sid);
    if (this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(session.sid, { ...session });
  }
}
