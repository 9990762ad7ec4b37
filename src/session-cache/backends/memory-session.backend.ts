import { LRUCache } from 'lru-cache';
import type { SessionBackend, StoredSession } from '../session-backend.js';

export const DEFAULT_MEMORY_MAX_ENTRIES = 100_000;

export interface MemorySessionBackendOptions {
  /** Most sessions held; past it the least recently used one is evicted. */
  maxEntries?: number;
  /** Called for each session evicted to make room (not for expiry or deletion). */
  onEvict?: () => void;
}

/**
 * Sessions in this process's heap, bounded: at most `maxEntries` sessions (least recently used
 * evicted first), each dropped at its own expiry. Never express-session's MemoryStore, which
 * grows without bound. Per process, so `shared` is false: replicas do not see each other's
 * sessions.
 */
export class MemorySessionBackend implements SessionBackend {
  readonly kind = 'memory';
  readonly shared = false;
  readonly maxEntries: number;
  private readonly cache: LRUCache<string, StoredSession>;
  /** userId -> sids. Kept in step with the cache by its dispose hook (eviction, expiry, replace, delete). */
  private readonly sidsByUser = new Map<string, Set<string>>();

  constructor(options: MemorySessionBackendOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_MEMORY_MAX_ENTRIES;
    this.cache = new LRUCache<string, StoredSession>({
      max: this.maxEntries,
      // No ttlAutopurge (a timer per entry): a stale entry is dropped when it is read, and it is
      // the first to go when the cache is full, since nothing has used it since it went stale.
      dispose: (session, sid, reason) => {
        this.unindex(session, sid);
        if (reason === 'evict') options.onEvict?.();
      },
    });
  }

  async get(sid: string): Promise<StoredSession | undefined> {
    const session = this.cache.get(sid);
    if (!session) return undefined;
    if (session.expiresAt <= Date.now()) {
      this.cache.delete(sid);
      return undefined;
    }
    return { ...session };
  }

  async getMany(sids: readonly string[]): Promise<StoredSession[]> {
    const sessions: StoredSession[] = [];
    for (const sid of sids) {
      const session = this.peekLive(sid);
      if (session) sessions.push({ ...session });
    }
    return sessions;
  }

  async put(session: StoredSession): Promise<void> {
    this.store(compact(session));
  }

  async putManyIfAbsent(sessions: readonly StoredSession[]): Promise<string[]> {
    const now = Date.now();
    const inserted: string[] = [];
    for (const session of sessions) {
      if (session.expiresAt <= now || this.peekLive(session.sid)) continue;
      this.store(compact(session));
      inserted.push(session.sid);
    }
    return inserted;
  }

  async update(session: StoredSession): Promise<boolean> {
    if (!this.peekLive(session.sid)) return false;
    this.store(compact(session));
    return true;
  }

  async touch(sid: string, expiresAt: number, lastSeenAt: number): Promise<void> {
    const current = this.peekLive(sid);
    if (!current) return;
    const ttl = Math.ceil(expiresAt - Date.now());
    if (ttl <= 0) {
      this.cache.delete(sid);
      return;
    }
    // In place: the stored object is this backend's own (reads hand out copies). A new one per
    // touch would live until the next touch, a minute or more: long enough to be promoted, so
    // every request with a touch would leave garbage in the old space.
    current.expiresAt = expiresAt;
    current.lastSeenAt = lastSeenAt;
    this.cache.set(sid, current, { ttl });
  }

  async destroy(sid: string): Promise<void> {
    this.cache.delete(sid);
  }

  async *entries(): AsyncIterable<StoredSession> {
    // A snapshot of the keys: the cache may change while the consumer awaits between items.
    for (const sid of [...this.cache.keys()]) {
      const session = this.peekLive(sid);
      if (session) yield { ...session };
    }
  }

  async length(): Promise<number> {
    this.cache.purgeStale();
    return this.cache.size;
  }

  async clear(): Promise<void> {
    this.cache.clear();
    this.sidsByUser.clear();
  }

  async listByUser(userId: string): Promise<StoredSession[]> {
    const sessions: StoredSession[] = [];
    for (const sid of this.sidsByUser.get(userId) ?? []) {
      const session = this.peekLive(sid);
      if (session?.userId === userId) sessions.push({ ...session });
    }
    return sessions;
  }

  async destroyByUser(userId: string, exceptSid?: string): Promise<string[]> {
    const doomed = (await this.listByUser(userId))
      .map((session) => session.sid)
      .filter((sid) => sid !== exceptSid);
    for (const sid of doomed) this.cache.delete(sid);
    return doomed;
  }

  async ping(): Promise<void> {}

  /** Frees the memory: a closed memory backend has been swapped away from (or was never used). */
  async close(): Promise<void> {
    await this.clear();
  }

  private store(session: StoredSession): void {
    const ttl = Math.ceil(session.expiresAt - Date.now());
    if (ttl <= 0) {
      this.cache.delete(session.sid);
      return;
    }
    // Replacing an entry disposes the old value first (unindexing it), so the index follows
    // the session when its user changes.
    this.cache.set(session.sid, session, { ttl });
    if (session.userId !== null) {
      let sids = this.sidsByUser.get(session.userId);
      if (!sids) this.sidsByUser.set(session.userId, (sids = new Set()));
      sids.add(session.sid);
    }
  }

  /** Looks without counting as a use, so listing and migrating do not reorder the LRU. */
  private peekLive(sid: string): StoredSession | undefined {
    const session = this.cache.peek(sid);
    return session && session.expiresAt > Date.now() ? session : undefined;
  }

  private unindex(session: StoredSession, sid: string): void {
    if (session.userId === null) return;
    const sids = this.sidsByUser.get(session.userId);
    if (!sids) return;
    sids.delete(sid);
    if (sids.size === 0) this.sidsByUser.delete(session.userId);
  }
}

/**
 * A copy of `session` whose data is one flat string. JSON.stringify returns a rope (a tree of
 * string pieces, about 40% larger than the text for a session's few hundred bytes), and this
 * backend keeps it for the session's whole life: 100,000 sessions held 14 MiB more as ropes.
 * The data is JSON.stringify's output, which never holds a lone surrogate, so the UTF-8 round
 * trip gives back the same text.
 */
function compact(session: StoredSession): StoredSession {
  return { ...session, data: Buffer.from(session.data, 'utf8').toString('utf8') };
}
