import type { SessionBackend, SessionBackendKind, StoredSession } from './session-backend.js';

/** Writes older than this are dropped: every handover has long ended by then. */
const KEPT_FOR_MS = 10 * 60_000;
/** Bounds memory on a very busy replica; the oldest entries go first. */
const MAX_ENTRIES = 100_000;

/** What this replica did to a session lately: started it (sign-in) or ended it. */
export type RecentWrite = 'started' | 'ended';

export interface RecentWritesTaken {
  /** Sessions started here (a fresh id stored with `put`), at or after the asked instant. */
  readonly started: string[];
  /** Sessions ended here (logout, revocation), at or after the asked instant. */
  readonly ended: string[];
}

/**
 * Which sessions this replica started or ended lately, and when: what a replica that switches
 * backends after the others did must carry over itself (it wrote the old backend alone in
 * between). Only starts and ends: replaying them can never bring back a session that ended
 * anywhere (an end is replayed as an end; a start copies a fresh id nobody else knows), so the
 * replay is safe even after the others stopped writing the old backend. Changes to a live
 * session (its expiry) are left to the handover's reconciliation pass. Per process, bounded in
 * age and size; lost on restart, which the reconciliation pass also covers.
 */
export class RecentWrites {
  private writes = new Map<string, { kind: RecentWrite; at: number }>();
  private readonly pending = new Set<Promise<unknown>>();

  /** Records `kind` for each of `sids` and tracks `write` until it settles. */
  track<T>(write: Promise<T>, kind: RecentWrite, sids: readonly string[]): Promise<T> {
    const now = Date.now();
    for (const sid of sids) this.remember(sid, kind, now);
    this.pending.add(write);
    const forget = () => this.pending.delete(write);
    write.then(forget, forget);
    return write;
  }

  /** Records, once `write` resolves to them, the sessions it ended; tracks it until it settles. */
  trackEnded(write: Promise<string[]>): Promise<string[]> {
    const recorded = write.then((sids) => {
      const now = Date.now();
      for (const sid of sids) this.remember(sid, 'ended', now);
      return sids;
    });
    return this.track(recorded, 'ended', []);
  }

  /** Puts back what `take` handed out, for a swap that failed: the next attempt needs it. */
  restore(taken: RecentWritesTaken, at: number): void {
    for (const sid of taken.started) if (!this.writes.has(sid)) this.remember(sid, 'started', at);
    for (const sid of taken.ended) if (!this.writes.has(sid)) this.remember(sid, 'ended', at);
  }

  /** Resolves once writes issued so far have settled (or `timeoutMs` passed). */
  async settled(timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.pending]),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  /** What was written at or after `since` (epoch ms); starts a new record. */
  take(since: number): RecentWritesTaken {
    const started: string[] = [];
    const ended: string[] = [];
    for (const [sid, { kind, at }] of this.writes) {
      if (at >= since) (kind === 'started' ? started : ended).push(sid);
    }
    this.writes = new Map();
    return { started, ended };
  }

  /** Re-inserts so the map stays in write order, then drops what is too old or too many. */
  private remember(sid: string, kind: RecentWrite, now: number): void {
    this.writes.delete(sid);
    this.writes.set(sid, { kind, at: now });
    for (const [oldest, { at }] of this.writes) {
      if (this.writes.size <= MAX_ENTRIES && now - at < KEPT_FOR_MS) break;
      this.writes.delete(oldest);
    }
  }
}

/** `backend` with every start and end of a session recorded in `journal`; the rest passes through. */
export class JournaledBackend implements SessionBackend {
  constructor(
    readonly inner: SessionBackend,
    private readonly journal: RecentWrites,
  ) {}

  get kind(): SessionBackendKind {
    return this.inner.kind;
  }

  get shared(): boolean {
    return this.inner.shared;
  }

  get(sid: string): Promise<StoredSession | undefined> {
    return this.inner.get(sid);
  }

  getMany(sids: readonly string[]): Promise<StoredSession[]> {
    return this.inner.getMany(sids);
  }

  /** Not journaled: the swap's copies, not sessions this replica started. */
  putManyIfAbsent(sessions: readonly StoredSession[]): Promise<string[]> {
    return this.inner.putManyIfAbsent(sessions);
  }

  put(session: StoredSession): Promise<void> {
    return this.journal.track(this.inner.put(session), 'started', [session.sid]);
  }

  update(session: StoredSession): Promise<boolean> {
    return this.inner.update(session);
  }

  touch(sid: string, expiresAt: number, lastSeenAt: number): Promise<void> {
    return this.inner.touch(sid, expiresAt, lastSeenAt);
  }

  destroy(sid: string): Promise<void> {
    return this.journal.track(this.inner.destroy(sid), 'ended', [sid]);
  }

  entries(): AsyncIterable<StoredSession> {
    return this.inner.entries();
  }

  length(): Promise<number> {
    return this.inner.length();
  }

  clear(): Promise<void> {
    return this.inner.clear();
  }

  listByUser(userId: string): Promise<StoredSession[]> {
    return this.inner.listByUser(userId);
  }

  /** Records each session it ended by id, so a replay ends exactly those. */
  destroyByUser(userId: string, exceptSid?: string): Promise<string[]> {
    return this.journal.trackEnded(this.inner.destroyByUser(userId, exceptSid));
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
