import type { SessionBackend, SessionBackendKind, StoredSession } from './session-backend.js';

/**
 * The active backend while a swap copies sessions from `source` to `target`.
 *
 * Invariants that make the swap lose nothing:
 * - writes (set, touch, destroy) go to both, so `source` stays complete and current until the
 *   copy has finished and whoever still reads it (a request that started before the swap, a
 *   late replica) sees the latest data;
 * - reads try `target` first and fall back to `source`, so a session not yet copied is found;
 * - the copy of one session and a write to the same session never interleave (a per-session
 *   lock): a copy reads `source` after any earlier write finished, and never overwrites what a
 *   newer write put in `target`. Newer data wins; expiry is copied as it is.
 */
export class MigratingBackend implements SessionBackend {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    readonly source: SessionBackend,
    readonly target: SessionBackend,
  ) {}

  get kind(): SessionBackendKind {
    return this.target.kind;
  }

  get shared(): boolean {
    return this.target.shared;
  }

  get(sid: string): Promise<StoredSession | undefined> {
    const read = (async () => (await this.target.get(sid)) ?? (await this.source.get(sid)))();
    this.inFlight.add(read);
    void read.then(
      () => this.inFlight.delete(read),
      () => this.inFlight.delete(read),
    );
    return read;
  }

  set(session: StoredSession): Promise<void> {
    return this.locked(session.sid, async () => {
      await Promise.all([this.target.set(session), this.source.set(session)]);
    });
  }

  touch(sid: string, expiresAt: number): Promise<void> {
    return this.locked(sid, async () => {
      // A session not copied yet is copied now, so the touch is not lost on the target.
      await this.copyOne(sid);
      await Promise.all([this.target.touch(sid, expiresAt), this.source.touch(sid, expiresAt)]);
    });
  }

  destroy(sid: string): Promise<void> {
    return this.locked(sid, async () => {
      await Promise.all([this.target.destroy(sid), this.source.destroy(sid)]);
    });
  }

  /** Copies one session unless the target already holds it (then the target's is newer). */
  migrate(sid: string): Promise<boolean> {
    return this.locked(sid, () => this.copyOne(sid));
  }

  async *entries(): AsyncIterable<StoredSession> {
    const seen = new Set<string>();
    for await (const session of this.target.entries()) {
      seen.add(session.sid);
      yield session;
    }
    for await (const session of this.source.entries()) {
      if (!seen.has(session.sid)) yield session;
    }
  }

  async length(): Promise<number> {
    let count = 0;
    for await (const _ of this.entries()) count += 1;
    return count;
  }

  async clear(): Promise<void> {
    await Promise.all([this.target.clear(), this.source.clear()]);
  }

  async listByUser(userId: string): Promise<StoredSession[]> {
    const [fromTarget, fromSource] = await Promise.all([
      this.target.listByUser(userId),
      this.source.listByUser(userId),
    ]);
    const bySid = new Map(fromSource.map((session) => [session.sid, session]));
    for (const session of fromTarget) bySid.set(session.sid, session);
    return [...bySid.values()];
  }

  async destroyByUser(userId: string, exceptSid?: string): Promise<number> {
    const sessions = await this.listByUser(userId);
    const doomed = sessions.filter((session) => session.sid !== exceptSid);
    await Promise.all(doomed.map((session) => this.destroy(session.sid)));
    return doomed.length;
  }

  async ping(): Promise<void> {
    await Promise.all([this.target.ping(), this.source.ping()]);
  }

  /** The swap closes each backend itself, when it is done with it. */
  async close(): Promise<void> {}

  private async copyOne(sid: string): Promise<boolean> {
    if (await this.target.get(sid)) return false;
    const current = await this.source.get(sid);
    if (!current) return false;
    await this.target.set(current);
    return true;
  }

  /**
   * Resolves once no call that went through this pair is still running (or `timeoutMs` passed),
   * so the swap closes the source only after requests that started on it have finished.
   */
  async drained(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise((resolve) => setTimeout(resolve, Math.max(1, deadline - Date.now()))),
      ]);
    }
  }

  private locked<T>(sid: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(sid) ?? Promise.resolve();
    const run = previous.then(work, work);
    this.inFlight.add(run);
    void run.then(
      () => this.inFlight.delete(run),
      () => this.inFlight.delete(run),
    );
    const settled = run.catch(() => undefined);
    this.locks.set(sid, settled);
    void settled.then(() => {
      if (this.locks.get(sid) === settled) this.locks.delete(sid);
    });
    return run;
  }
}
