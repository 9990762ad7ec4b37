import type { SessionBackend, SessionBackendKind, StoredSession } from './session-backend.js';

/** Writes older than this are dropped: every swap's copy has long covered them. */
const KEPT_FOR_MS = 10 * 60_000;
/** Bounds memory on a very busy replica; the oldest entries go first. */
const MAX_ENTRIES = 100_000;

export interface RecentWritesTaken {
  /** Sessions written (set, touch, destroy), at or after the asked instant. */
  readonly sids: string[];
  /** Users whose sessions were destroyed together (`destroyByUser`). */
  readonly userIds: string[];
}

/**
 * Which sessions this replica wrote lately, and when: what a replica that switches backends
 * after another replica copied them must carry over itself (its writes to the old backend alone,
 * between that copy and its own switch). Per process, bounded in age and size.
 */
export class RecentWrites {
  private sids = new Map<string, number>();
  private userIds = new Map<string, number>();
  private readonly pending = new Set<Promise<unknown>>();

  /** Records a write through `backend` and tracks it until it settles. */
  track<T>(write: Promise<T>, sid?: string, userId?: string): Promise<T> {
    const now = Date.now();
    if (sid !== undefined) remember(this.sids, sid, now);
    if (userId !== undefined) remember(this.userIds, userId, now);
    this.pending.add(write);
    const forget = () => this.pending.delete(write);
    write.then(forget, forget);
    return write;
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
    const pick = (entries: Map<string, number>) =>
      [...entries].filter(([, at]) => at >= since).map(([key]) => key);
    const taken = { sids: pick(this.sids), userIds: pick(this.userIds) };
    this.sids = new Map();
    this.userIds = new Map();
    return taken;
  }
}

/** Re-inserts so the map stays in write order, then drops what is too old or too many. */
function remember(entries: Map<string, number>, key: string, now: number): void {
  entries.delete(key);
  entries.set(key, now);
  for (const [oldest, at] of entries) {
    if (entries.size <= MAX_ENTRIES && now - at < KEPT_FOR_MS) break;
    entries.delete(oldest);
  }
}

/** `backend` with every write recorded in `journal`; reads pass straight through. */
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

  set(session: StoredSession): Promise<void> {
    return this.journal.track(this.inner.set(session), session.sid);
  }

  touch(sid: string, expiresAt: number): Promise<void> {
    return this.journal.track(this.inner.touch(sid, expiresAt), sid);
  }

  destroy(sid: string): Promise<void> {
    return this.journal.track(this.inner.destroy(sid), sid);
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

  destroyByUser(userId: string, exceptSid?: string): Promise<number> {
    return this.journal.track(this.inner.destroyByUser(userId, exceptSid), undefined, userId);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
