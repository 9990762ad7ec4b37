import type { SessionBackend, SessionBackendKind, StoredSession } from './session-backend.js';

/** Reads of the source that must agree before a mirrored session is taken as settled. */
const MIRROR_ATTEMPTS = 3;

function sameSession(a: StoredSession | undefined, b: StoredSession | undefined): boolean {
  if (!a || !b) return a === b;
  return (
    a.data === b.data &&
    a.userId === b.userId &&
    a.expiresAt === b.expiresAt &&
    a.lastSeenAt === b.lastSeenAt
  );
}

/**
 * Where the pair reads:
 * - `source`: the old backend alone, while some replica may still write it alone (a
 *   cross-replica handover before every replica switched and the new one was reconciled);
 * - `target-then-source`: the new backend, falling back to the old one for a session not copied
 *   yet (the copy of a swap this process runs, where another replica may write the new backend);
 * - `source-then-target`: the old backend, falling back to the new one (a session the old one
 *   dropped, as a full memory backend does, after it was copied). For the copy of a swap from
 *   this process's own memory into a backend no other replica uses (the swap emptied it), until
 *   the change is stored (other replicas start writing the new backend only then): every write
 *   reaches the old one and nobody else writes the new one, so the old one is complete and
 *   current, and a read of a session it holds neither waits on the new backend (busy with the
 *   copy's batches) nor fails with it;
 * - `target`: the new backend alone, once it holds everything (the end of a handover, while the
 *   old one still gets writes for replicas that read it a moment longer).
 */
export type PairReads = 'source' | 'target-then-source' | 'source-then-target' | 'target';

/**
 * The active backend while a swap copies sessions from `source` to `target`.
 *
 * Invariants that make the swap lose nothing:
 * - writes (put, update, touch, destroy) go to both, so `source` stays complete and current until the
 *   copy has finished and whoever still reads it (a request that started before the swap, a
 *   late replica) sees the latest data;
 * - reads try `target` first and fall back to `source` (but see `reads`), so a session not
 *   yet copied is found;
 * - conditional writes stay conditional on each backend: an `update` of a session that ended
 *   in either one is not written back there;
 * - the copy of one session and a write to the same session never interleave (a per-session
 *   lock): a copy reads `source` after any earlier write finished, and never overwrites what a
 *   newer write put in `target`. Newer data wins; expiry is copied as it is.
 *
 * With several replicas, `reads` is `source` while some replica may not have switched yet:
 * that replica writes the old backend only, so the old one (which every replica writes) is the
 * complete and current one until all have switched, and reads use it alone: falling back to
 * the target would bring back a session a late replica destroyed in the old backend only
 * (docs/architecture.md, "A swap across replicas").
 */
export class MigratingBackend implements SessionBackend {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  reads: PairReads = 'target-then-source';

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
    const read = this.read(sid);
    this.inFlight.add(read);
    void read.then(
      () => this.inFlight.delete(read),
      () => this.inFlight.delete(read),
    );
    return read;
  }

  async getMany(sids: readonly string[]): Promise<StoredSession[]> {
    if (this.reads === 'source') return this.source.getMany(sids);
    if (this.reads === 'target') return this.target.getMany(sids);
    const [preferred, fallback] = this.fallbackOrder();
    const found = await preferred.getMany(sids);
    const seen = new Set(found.map((session) => session.sid));
    const rest = sids.filter((sid) => !seen.has(sid));
    return rest.length === 0 ? found : [...found, ...(await fallback.getMany(rest))];
  }

  put(session: StoredSession): Promise<void> {
    return this.locked(session.sid, () =>
      this.both(
        () => this.source.put(session),
        () => this.target.put(session),
      ),
    );
  }

  /** Resolves to the ids inserted in the backend reads use (the one they try first). */
  putManyIfAbsent(sessions: readonly StoredSession[]): Promise<string[]> {
    return this.locked(
      sessions.map((session) => session.sid),
      async () => {
        let inSource: string[] = [];
        let inTarget: string[] = [];
        await this.both(
          async () => void (inSource = await this.source.putManyIfAbsent(sessions)),
          async () => void (inTarget = await this.target.putManyIfAbsent(sessions)),
        );
        return this.readsSourceFirst ? inSource : inTarget;
      },
    );
  }

  /** Resolves to whether the session was there in the backend reads use. */
  update(session: StoredSession): Promise<boolean> {
    return this.locked(session.sid, async () => {
      // A session not copied yet is copied first, so the update reaches the target too.
      await this.copyOne(session.sid);
      let inSource = false;
      let inTarget = false;
      await this.both(
        async () => void (inSource = await this.source.update(session)),
        async () => void (inTarget = await this.target.update(session)),
      );
      if (this.reads === 'source') return inSource;
      return this.reads === 'target' ? inTarget : inTarget || inSource;
    });
  }

  touch(sid: string, expiresAt: number, lastSeenAt: number): Promise<void> {
    return this.locked(sid, async () => {
      // A session not copied yet is copied now, so the touch is not lost on the target.
      await this.copyOne(sid);
      await this.both(
        () => this.source.touch(sid, expiresAt, lastSeenAt),
        () => this.target.touch(sid, expiresAt, lastSeenAt),
      );
    });
  }

  destroy(sid: string): Promise<void> {
    return this.locked(sid, () =>
      this.both(
        () => this.source.destroy(sid),
        () => this.target.destroy(sid),
      ),
    );
  }

  /**
   * Copies a batch of sessions, each unless the target already holds it (then the target's is
   * newer), in a few round trips for the whole batch. Under the locks of all of them (a write
   * to one of them waits for the batch): the source is read now (a session ended before is not
   * there, one ended after waits and is ended in both), and only what the target lacks is
   * inserted. With a shared source it is read again after the write: a session another replica
   * changed or ended meanwhile is mirrored one by one, as `mirror` does for one session.
   * Resolves to the sessions copied.
   */
  migrateMany(sids: readonly string[]): Promise<number> {
    return this.locked(sids, async () => {
      if (this.reads === 'target') return 0;
      const current = await this.source.getMany(sids);
      const inserted = new Set(await this.target.putManyIfAbsent(current));
      if (!this.source.shared || inserted.size === 0) return inserted.size;
      const again = new Map(
        (await this.source.getMany([...inserted])).map((session) => [session.sid, session]),
      );
      const copied = await Promise.all(
        current
          .filter((session) => inserted.has(session.sid))
          .map(async (session) => {
            const now = again.get(session.sid);
            if (sameSession(now, session)) return true;
            return (await this.mirror(session.sid, now)) !== undefined;
          }),
      );
      return copied.filter(Boolean).length;
    });
  }

  /**
   * Makes the target hold what the source holds for `sid`, present or not: the handover's
   * reconciliation pass, run while the source is still the backend every replica writes (so it
   * is authoritative) and before anyone reads the target alone. Resolves to whether the target
   * had to change.
   */
  reconcile(sid: string): Promise<boolean> {
    return this.locked(sid, async () => {
      const [inSource, inTarget] = await Promise.all([
        stored(this.source, sid),
        stored(this.target, sid),
      ]);
      if (sameSession(inSource, inTarget)) return false;
      await this.mirror(sid, inSource);
      return true;
    });
  }

  /**
   * A session this replica started in the source alone: copied unless the target has it,
   * whatever the reads (a fresh id nobody else knows cannot have ended anywhere else).
   */
  carryOverStarted(sid: string): Promise<boolean> {
    return this.locked(sid, () => this.copyFromSource(sid));
  }

  /** A session this replica ended in the source alone: ended in the target too. */
  carryOverEnded(sid: string): Promise<void> {
    return this.locked(sid, () => this.target.destroy(sid));
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
    if (this.reads === 'source') return this.source.listByUser(userId);
    if (this.reads === 'target') return this.target.listByUser(userId);
    const [fromTarget, fromSource] = await Promise.all([
      this.target.listByUser(userId),
      this.source.listByUser(userId),
    ]);
    // Where a session is in both, the backend reads try first has it as they would see it.
    const [preferred, fallback] = this.readsSourceFirst
      ? [fromSource, fromTarget]
      : [fromTarget, fromSource];
    const bySid = new Map(fallback.map((session) => [session.sid, session]));
    for (const session of preferred) bySid.set(session.sid, session);
    return [...bySid.values()];
  }

  async destroyByUser(userId: string, exceptSid?: string): Promise<string[]> {
    const sessions = await this.listByUser(userId);
    const doomed = sessions.map((session) => session.sid).filter((sid) => sid !== exceptSid);
    await Promise.all(doomed.map((sid) => this.destroy(sid)));
    return doomed;
  }

  async ping(): Promise<void> {
    await Promise.all([this.target.ping(), this.source.ping()]);
  }

  /** The swap closes each backend itself, when it is done with it. */
  async close(): Promise<void> {}

  private read(sid: string): Promise<StoredSession | undefined> {
    if (this.reads === 'source') return this.source.get(sid);
    if (this.reads === 'target') return this.target.get(sid);
    const [preferred, fallback] = this.fallbackOrder();
    return preferred.get(sid).then((session) => session ?? fallback.get(sid));
  }

  /** For the two reads with a fallback: the backend tried first, then the other. */
  private fallbackOrder(): [SessionBackend, SessionBackend] {
    return this.readsSourceFirst ? [this.source, this.target] : [this.target, this.source];
  }

  private get readsSourceFirst(): boolean {
    return this.reads === 'source' || this.reads === 'source-then-target';
  }

  /**
   * Copies one session the target lacks. Never once reads use the target alone: it then holds
   * everything, and a session it lacks has ended (another replica may already use the target
   * alone, so the source can be stale).
   */
  private async copyOne(sid: string): Promise<boolean> {
    if (this.reads === 'target') return false;
    return this.copyFromSource(sid);
  }

  private async copyFromSource(sid: string): Promise<boolean> {
    if (await stored(this.target, sid)) return false;
    const current = await stored(this.source, sid);
    if (!current) return false;
    return (await this.mirror(sid, current)) !== undefined;
  }

  /**
   * Writes `current` (what the source held; undefined: nothing) to the target. With a shared
   * source, another replica may change or end the session between that read and this write,
   * and the per-session lock here does not reach it: so the source is read again afterwards,
   * and a change is mirrored too, until two reads agree (bounded). Together with `both` writing
   * the source first, a destroy on another replica is never undone here: either the read after
   * the write sees it, or the write came before the destroy reached the target. Resolves to
   * what the target now holds.
   */
  private async mirror(
    sid: string,
    current: StoredSession | undefined,
  ): Promise<StoredSession | undefined> {
    let written = current;
    for (let attempt = 1; ; attempt += 1) {
      if (written) await this.target.put(written);
      else await this.target.destroy(sid);
      if (!this.source.shared) return written;
      const again = await stored(this.source, sid);
      if (sameSession(again, written)) return written;
      if (!again) {
        // Ended meanwhile: its destroy may have reached the target before this write did.
        await this.target.destroy(sid);
        return undefined;
      }
      // Still changing: whoever changes it writes both backends (or carries it over later).
      if (attempt >= MIRROR_ATTEMPTS) return written;
      written = again;
    }
  }

  /**
   * A write to both backends. With a shared source (other replicas read and write it), the source
   * first, then the target: a replica mirroring the source into the target then either sees the
   * write in the source or writes before it reaches the target (see `mirror`). Otherwise both at
   * once.
   */
  private async both(toSource: () => Promise<void>, toTarget: () => Promise<void>): Promise<void> {
    if (this.source.shared) {
      await toSource();
      await toTarget();
    } else {
      await Promise.all([toTarget(), toSource()]);
    }
  }

  /**
   * Resolves once no call that went through this pair is still running (or `timeoutMs` passed),
   * so the swap closes the source only after requests that started on it have finished.
   */
  async drained(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise((resolve) => (timer = setTimeout(resolve, Math.max(1, deadline - Date.now())))),
      ]);
      clearTimeout(timer);
    }
  }

  /** Runs `work` once every call before it on any of `sids` has settled, and holds them until it has. */
  private locked<T>(sids: string | readonly string[], work: () => Promise<T>): Promise<T> {
    const ids = typeof sids === 'string' ? [sids] : sids;
    const earlier = ids.flatMap((sid) => this.locks.get(sid) ?? []);
    const previous = earlier.length <= 1 ? (earlier[0] ?? Promise.resolve()) : Promise.all(earlier);
    const run = previous.then(work, work);
    this.inFlight.add(run);
    void run.then(
      () => this.inFlight.delete(run),
      () => this.inFlight.delete(run),
    );
    const settled = run.catch(() => undefined);
    for (const sid of ids) this.locks.set(sid, settled);
    void settled.then(() => {
      for (const sid of ids) if (this.locks.get(sid) === settled) this.locks.delete(sid);
    });
    return run;
  }
}

/**
 * What `backend` itself holds for `sid`, past any read cache (`getMany` never answers from
 * one): the copy and its checks must see what another replica ended a moment ago, not what
 * this process read before that (the database backend's read cache may lag by its lease).
 */
async function stored(backend: SessionBackend, sid: string): Promise<StoredSession | undefined> {
  return (await backend.getMany([sid]))[0];
}
