import type { Request } from 'express';
import session, { type SessionData } from 'express-session';
import type { SessionBackend, StoredSession } from './session-backend.js';

// Declared here too (identically, so the declarations merge) because this store reads and
// writes them; at runtime any of them may be missing from a session, and the code checks.
declare module 'express-session' {
  interface SessionData {
    /** Set by the auth layer once the session is logged in; drives the per-user index. */
    userId: string;
    /** Epoch ms of the session's first save. */
    createdAt: number;
    /** Epoch ms after which the session is over however active it is (absolute timeout). */
    absoluteExpiresAt: number;
    /**
     * The backend's expiry when this session was read: see `KeelSessionStore.read`. Present
     * only on a session loaded from the store (`isStoredSession`).
     */
    storedExpiresAt: number;
  }
}

/**
 * The attributes every cookie of one session middleware carries (its `cookie` option). `secure`
 * is a boolean: express-session's `'auto'` is decided per request, and a stored session is not.
 */
export type SessionCookieAttributes = Pick<
  session.CookieOptions,
  'httpOnly' | 'sameSite' | 'path' | 'domain'
> & { secure: boolean };

export interface KeelSessionStoreOptions {
  /** The backend to use for this call: the store outlives backends (hot swap). */
  backend: () => SessionBackend;
  /**
   * The cookie attributes of the middleware this store serves, given back to every session it
   * loads: they are the same for all its sessions, so they are not stored (see `storedCookie`).
   */
  cookie: SessionCookieAttributes;
  /** Read at every call, since runtime settings change while the store lives. */
  idleTimeoutMs: () => number;
  absoluteTimeoutMs: () => number;
  /**
   * A touch that would move the expiry by less than this is skipped (no backend write).
   * Default: min(60 s, idle timeout / 10).
   */
  touchThrottleMs?: number;
}

type Callback<T> = (error: unknown, value?: T) => void;

/**
 * The one express-session store of the process. It holds no sessions itself: every call goes
 * to whatever backend `options.backend()` returns at that moment, so the cache can be swapped
 * without rebuilding the middleware.
 *
 * Timeouts: a session ends at its idle timeout or its absolute deadline, whichever is first.
 * The deadline is kept inside the session (`createdAt`, `absoluteExpiresAt`, set on first
 * save), so no touch or save ever extends a session past it; a tightened absolute timeout
 * also applies to existing sessions (deadline = min(absoluteExpiresAt, createdAt + current
 * timeout)).
 *
 * Ending is final: a session is created (`put`) only when it is new and signed in (sign-in gives
 * it a fresh id); a session that was loaded from the store is written back with `update`, which
 * does nothing if it was destroyed meanwhile, so a request in flight when its session ends (a
 * logout elsewhere, a revocation) cannot bring it back when it saves at its end. Sessions that
 * are not signed in are never stored: anonymous clients cost the backend nothing.
 *
 * Errors: when the backend cannot be reached, the callback gets its SessionStoreUnavailableError;
 * express-session passes it to next(err), so the request is answered 503, never served as
 * logged out. For the same reason this store never emits 'disconnect' (express-session would
 * then skip sessions silently).
 */
export class KeelSessionStore extends session.Store {
  constructor(private readonly options: KeelSessionStoreOptions) {
    super();
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    settle(this.read(sid), callback);
  }

  override set(sid: string, sess: SessionData, callback?: (error?: unknown) => void): void {
    settle(this.write(sid, sess), callback);
  }

  override touch(sid: string, sess: SessionData, callback?: (error?: unknown) => void): void {
    settle(this.extend(sid, sess), callback);
  }

  /**
   * express-session's regenerate destroys the old id first. A session that was never stored
   * (an anonymous client signing in) has nothing to destroy: no backend call.
   */
  override regenerate(req: Request, callback: (error?: unknown) => void): void {
    if (isStoredSession(req.session)) {
      super.regenerate(req, callback);
      return;
    }
    // Patched onto every store by express-session, which calls this only once it has.
    (this as unknown as { generate(req: Request): void }).generate(req);
    callback();
  }

  /**
   * Whether `sid` names a live session in the backend itself, past the database backend's
   * read cache: for a long-lived request (the console's event stream) that must see an end
   * on another replica within its own second, not the cache's lease later.
   */
  async isStored(sid: string): Promise<boolean> {
    const [stored] = await this.options.backend().getMany([sid]);
    return (
      stored !== undefined &&
      decodeSession(stored, this.options.absoluteTimeoutMs(), Date.now()) !== null
    );
  }

  override destroy(sid: string, callback?: (error?: unknown) => void): void {
    settle((async () => this.options.backend().destroy(sid))(), callback);
  }

  override all(callback: Callback<Record<string, SessionData>>): void {
    settle(this.readAll(), callback);
  }

  override length(callback: Callback<number>): void {
    settle((async () => this.options.backend().length())(), callback);
  }

  override clear(callback?: (error?: unknown) => void): void {
    settle((async () => this.options.backend().clear())(), callback);
  }

  /**
   * Returns null (not an error) for a missing, expired or past-deadline session.
   *
   * The returned object carries `storedExpiresAt`, the expiry the backend holds, so `touch`
   * can skip writes that would barely move it without reading the backend again. It is an
   * ordinary enumerable field on purpose: express-session hashes the session as loaded and
   * again at the end of the request, and since the field is there both times an unmodified
   * session still hashes equal (and gets a touch, not a save). `set` strips it, so it is never
   * stored.
   */
  private async read(sid: string): Promise<SessionData | null> {
    const backend = this.options.backend();
    const stored = await backend.get(sid);
    if (!stored) return null;
    const sess = decodeSession(stored, this.options.absoluteTimeoutMs(), Date.now());
    if (!sess) {
      await backend.destroy(sid);
      return null;
    }
    sess.storedExpiresAt = stored.expiresAt;
    return this.withCookie(sess);
  }

  private async write(sid: string, sess: SessionData): Promise<void> {
    const loaded = isStoredSession(sess);
    if (!loaded && typeof sess.userId !== 'string') return;
    const backend = this.options.backend();
    const now = Date.now();
    const { storedExpiresAt: _storedExpiresAt, ...data } = sess;
    const createdAt = typeof data.createdAt === 'number' ? data.createdAt : now;
    const absoluteTimeoutMs = this.options.absoluteTimeoutMs();
    const absoluteExpiresAt =
      typeof data.absoluteExpiresAt === 'number'
        ? data.absoluteExpiresAt
        : createdAt + absoluteTimeoutMs;
    const deadline = absoluteDeadline({ createdAt, absoluteExpiresAt }, absoluteTimeoutMs);
    if (deadline <= now) {
      await backend.destroy(sid);
      return;
    }
    const stored = {
      sid,
      data: JSON.stringify({
        ...data,
        cookie: storedCookie(data.cookie),
        createdAt,
        absoluteExpiresAt,
      }),
      userId: typeof data.userId === 'string' ? data.userId : null,
      expiresAt: Math.min(now + this.options.idleTimeoutMs(), deadline),
      lastSeenAt: now,
    };
    if (loaded) await backend.update(stored);
    else await backend.put(stored);
  }

  private async extend(sid: string, sess: SessionData): Promise<void> {
    const backend = this.options.backend();
    const now = Date.now();
    const idleTimeoutMs = this.options.idleTimeoutMs();
    const deadline = absoluteDeadline(sess, this.options.absoluteTimeoutMs());
    if (deadline <= now) {
      await backend.destroy(sid);
      return;
    }
    const expiresAt = Math.min(now + idleTimeoutMs, deadline);
    const throttleMs = this.options.touchThrottleMs ?? Math.min(60_000, idleTimeoutMs / 10);
    // Within the throttle the stored expiry is close enough: the session may end up to
    // throttleMs before a full idle timeout, in exchange for no write on most requests. The
    // same throttle bounds how stale `lastSeenAt` can be.
    if (
      typeof sess.storedExpiresAt === 'number' &&
      Math.abs(expiresAt - sess.storedExpiresAt) < throttleMs
    ) {
      return;
    }
    await backend.touch(sid, expiresAt, now);
  }

  private async readAll(): Promise<Record<string, SessionData>> {
    const now = Date.now();
    const absoluteTimeoutMs = this.options.absoluteTimeoutMs();
    const sessions: Record<string, SessionData> = {};
    for await (const stored of this.options.backend().entries()) {
      const sess = decodeSession(stored, absoluteTimeoutMs, now);
      if (sess) sessions[stored.sid] = this.withCookie(sess);
    }
    return sessions;
  }

  /**
   * The session's cookie as express-session builds it (its `Cookie` constructor copies these
   * fields): this store's attributes and the session's own lifetime. No `expires`: when a request
   * ends (`res.end`) express-session sets it from the lifetime (`touch`) before it decides on
   * and sends a cookie. Only a loaded session that a request modifies and whose headers go out
   * before `res.end` would now get no cookie again, and Keel modifies no loaded session (a
   * sign-in makes a new one). A session stored with its whole cookie (before the attributes were
   * left out) gets the store's. Field by field and without a Date: a first version (a spread of
   * the attributes, and an `expires` Date) made `me` about 10% slower (bench/ab.js,
   * docs/performance.md); this one is level with storing the whole cookie.
   */
  private withCookie(sess: SessionData): SessionData {
    const stored = sess.cookie as { originalMaxAge?: unknown } | undefined;
    const { httpOnly, sameSite, path, secure, domain } = this.options.cookie;
    sess.cookie = {
      originalMaxAge: typeof stored?.originalMaxAge === 'number' ? stored.originalMaxAge : null,
      httpOnly,
      sameSite,
      path,
      secure,
      domain,
    } as SessionData['cookie'];
    return sess;
  }
}

/**
 * The part of a session's cookie that is the session's own: its lifetime (the sign-in sets it to
 * the absolute timeout). The attributes are the store's (`withCookie` gives them back) and the
 * expiry is derived from the lifetime, so neither is stored: about 95 of the 450 bytes of a
 * signed-in session, in every backend. It stays an object: express-session (in a replica of an
 * older Keel, too) reads `cookie.expires` of every session it loads.
 */
function storedCookie(cookie: SessionData['cookie'] | undefined): {
  originalMaxAge: number | null;
} {
  return { originalMaxAge: cookie?.originalMaxAge ?? null };
}

/**
 * Whether express-session loaded this session from the store (as opposed to one it generated for
 * a request whose cookie named no stored session). Only a stored session is written back, and
 * only conditionally.
 */
export function isStoredSession(sess: Partial<SessionData> | undefined | null): boolean {
  return typeof sess?.storedExpiresAt === 'number';
}

/** The instant a session ends however active it is: its stored deadline or a tightened policy's. */
export function absoluteDeadline(
  sess: Pick<SessionData, 'createdAt' | 'absoluteExpiresAt'>,
  absoluteTimeoutMs: number,
): number {
  return Math.min(
    typeof sess.absoluteExpiresAt === 'number' ? sess.absoluteExpiresAt : Infinity,
    typeof sess.createdAt === 'number' ? sess.createdAt + absoluteTimeoutMs : Infinity,
  );
}

/**
 * The session a backend holds, or undefined when it is past its absolute deadline or its data
 * does not parse (a session nobody can use: the user simply signs in again).
 */
export function decodeSession(
  stored: StoredSession,
  absoluteTimeoutMs: number,
  now: number,
): SessionData | undefined {
  let sess: SessionData;
  try {
    sess = JSON.parse(stored.data) as SessionData;
  } catch {
    return undefined;
  }
  if (typeof sess !== 'object' || sess === null) return undefined;
  if (absoluteDeadline(sess, absoluteTimeoutMs) <= now) return undefined;
  return sess;
}

function settle<T>(work: Promise<T>, callback: Callback<T> | undefined): void {
  void work.then(
    (value) => callback?.(null, value),
    (error: unknown) => callback?.(error),
  );
}
