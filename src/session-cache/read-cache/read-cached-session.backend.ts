import type { SessionBackend, StoredSession } from '../session-backend.js';
import type { SessionReadCache } from './session-read-cache.js';

/** The database backend as the cache needs it: a touch that says whether it found a live row. */
export interface TouchReportingBackend extends SessionBackend {
  touchLive(sid: string, expiresAt: number, lastSeenAt: number): Promise<boolean>;
}

/**
 * The database backend as requests reach it: `get` answered by the process's SessionReadCache,
 * everything else passed through. Each write invalidates its sessions here before and after
 * it runs (a touch, which moves only the expiry, updates the entry instead: see
 * SessionReadCache.touch), so this process never serves what it has just changed or ended (a
 * read that started before the write cannot store its older value: the cache marks it stale);
 * other processes hear it through the database's change notices.
 */
export class ReadCachedSessionBackend implements SessionBackend {
  readonly kind: SessionBackend['kind'];
  readonly shared: boolean;

  constructor(
    private readonly inner: TouchReportingBackend,
    private readonly cache: SessionReadCache,
  ) {
    this.kind = inner.kind;
    this.shared = inner.shared;
  }

  get(sid: string): Promise<StoredSession | undefined> {
    return this.cache.get(sid, (id) => this.inner.get(id));
  }

  /** The swap's bulk read: straight from the database, and nothing kept. */
  getMany(sids: readonly string[]): Promise<StoredSession[]> {
    return this.inner.getMany(sids);
  }

  put(session: StoredSession): Promise<void> {
    return this.writing([session.sid], () => this.inner.put(session));
  }

  async putManyIfAbsent(sessions: readonly StoredSession[]): Promise<string[]> {
    const inserted = await this.inner.putManyIfAbsent(sessions);
    // Absent before, so nothing live was cached; an expired row it replaced might have been.
    for (const sid of inserted) this.cache.invalidate(sid);
    return inserted;
  }

  update(session: StoredSession): Promise<boolean> {
    return this.writing([session.sid], () => this.inner.update(session));
  }

  async touch(sid: string, expiresAt: number, lastSeenAt: number): Promise<void> {
    const write = () => this.inner.touchLive(sid, expiresAt, lastSeenAt);
    // A touch to a past expiry deletes the session: a write like any other.
    if (expiresAt <= Date.now()) await this.writing([sid], write);
    else await this.cache.touch(sid, expiresAt, lastSeenAt, write);
  }

  destroy(sid: string): Promise<void> {
    return this.writing([sid], () => this.inner.destroy(sid));
  }

  entries(): AsyncIterable<StoredSession> {
    return this.inner.entries();
  }

  length(): Promise<number> {
    return this.inner.length();
  }

  async clear(): Promise<void> {
    this.cache.invalidateAll();
    try {
      await this.inner.clear();
    } finally {
      this.cache.invalidateAll();
    }
  }

  listByUser(userId: string): Promise<StoredSession[]> {
    return this.inner.listByUser(userId);
  }

  async destroyByUser(userId: string, exceptSid?: string): Promise<string[]> {
    // Which sessions go is known only once the statement ran; a read of one of them in flight
    // meanwhile is marked stale here all the same, since invalidating comes after it.
    let destroyed: string[];
    try {
      destroyed = await this.inner.destroyByUser(userId, exceptSid);
    } catch (error) {
      // It may have committed: which sessions went is unknown, so none is trusted.
      this.cache.invalidateAll();
      throw error;
    }
    for (const sid of destroyed) this.cache.invalidate(sid);
    return destroyed;
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    this.cache.invalidateAll();
    await this.inner.close();
  }

  /** Runs a write with `sids` invalidated before and after (also when it fails: it may have landed). */
  private async writing<T>(sids: readonly string[], write: () => Promise<T>): Promise<T> {
    for (const sid of sids) this.cache.invalidate(sid);
    try {
      return await write();
    } finally {
      for (const sid of sids) this.cache.invalidate(sid);
    }
  }
}
