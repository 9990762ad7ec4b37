import { DependencyUnavailableError } from '../http/dependency-unavailable.js';
import { ErrorCode } from '../http/error-codes.js';

/** What a backend stores per session: the serialized express-session data plus the metadata Keel indexes. */
export interface StoredSession {
  sid: string;
  /** JSON of the express-session session object (opaque to backends). */
  data: string;
  /** Set once the session is logged in; drives the per-user index. */
  userId: string | null;
  /** Epoch ms; the backend forgets the session at or after this instant. */
  expiresAt: number;
  /**
   * Epoch ms of the session's last use, kept beside the data (written by `touch`) so that
   * bookkeeping never rewrites the session itself; 0 when a backend holds none (older rows).
   */
  lastSeenAt: number;
}

export type SessionBackendKind = 'memory' | 'database' | 'redis';

/**
 * Where sessions live. Every implementation keeps the same contract
 * (test/session-cache/session-store-contract.int.spec.ts runs it against each), so the swappable
 * store and the hot swap can treat them alike.
 */
export interface SessionBackend {
  readonly kind: SessionBackendKind;
  /** False for memory: its sessions exist in one process only. */
  readonly shared: boolean;
  /** Undefined when missing or expired. */
  get(sid: string): Promise<StoredSession | undefined>;
  /**
   * The live sessions among `sids`, read at once (one round trip on database and redis), for
   * the swap's bulk copy; missing and expired ones are left out, in no particular order.
   */
  getMany(sids: readonly string[]): Promise<StoredSession[]>;
  /**
   * Insert or replace, unconditionally (also moves the user index): for a session that has just
   * been created under a fresh id (sign-in), and for the swap's copies. Never for a session a
   * request loaded earlier: that is `update`, which cannot bring back one that ended meanwhile.
   * An expiry already past removes the session.
   */
  put(session: StoredSession): Promise<void>;
  /**
   * Inserts, at once (redis: one script; database: one multi-row `INSERT ... ON CONFLICT`
   * statement, so one transaction), each of `sessions` the backend does not hold live; a
   * session it holds is left as it is (whatever it holds was written later, so it is newer),
   * an expired one is skipped. Resolves to the ids it inserted. For the swap's bulk copy only:
   * like `put`, it cannot know whether a session ended meanwhile, so the caller reads the
   * sessions under their locks first and checks again after (`MigratingBackend.migrateMany`).
   * A failure may leave part of the batch written.
   */
  putManyIfAbsent(sessions: readonly StoredSession[]): Promise<string[]>;
  /**
   * Replaces a session only while it is still stored (a conditional write): a session destroyed
   * meanwhile (logout, revocation) stays destroyed. Resolves to whether it was there.
   */
  update(session: StoredSession): Promise<boolean>;
  /**
   * Moves the expiry and `lastSeenAt` of a session still stored; no-op if missing (never
   * revives one). An expiry already past removes the session.
   */
  touch(sid: string, expiresAt: number, lastSeenAt: number): Promise<void>;
  destroy(sid: string): Promise<void>;
  /**
   * Every live session, read page by page (never everything at once on database/redis), for
   * migrating 10k+ sessions during a swap. A session written during the walk may or may not be
   * seen, and redis may yield one twice (SCAN's guarantee): consumers must be idempotent.
   */
  entries(): AsyncIterable<StoredSession>;
  /** Live sessions. */
  length(): Promise<number>;
  /** Only this backend's own sessions (redis: only keys under its prefix). */
  clear(): Promise<void>;
  listByUser(userId: string): Promise<StoredSession[]>;
  /** Destroys the user's live sessions except `exceptSid`; resolves to the ids it destroyed. */
  destroyByUser(userId: string, exceptSid?: string): Promise<string[]>;
  /** Rejects with SessionStoreUnavailableError when the backend cannot be reached (bounded by a timeout). */
  ping(): Promise<void>;
  /** Releases connections; idempotent. */
  close(): Promise<void>;
}

/** How long a client waits before retrying when the session store cannot be reached. */
export const SESSION_STORE_RETRY_AFTER_SECONDS = 5;

/**
 * Thrown (or passed to express-session's callback) when the active backend cannot be reached.
 * The HTTP layer answers it with `503 session_store_unavailable`: a request that needs its
 * session must never be served as if logged out because the store was down.
 */
export class SessionStoreUnavailableError extends DependencyUnavailableError {
  override readonly name = 'SessionStoreUnavailableError';
  readonly code = ErrorCode.SessionStoreUnavailable;
  readonly publicMessage = 'The session store cannot be reached right now; try again shortly';
  readonly retryAfterSeconds = SESSION_STORE_RETRY_AFTER_SECONDS;

  constructor(
    readonly backend: SessionBackendKind,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`The ${backend} session store cannot be reached: ${reason}`, options);
  }
}

/** Rejects with `onTimeout()` when `promise` has not settled within `timeoutMs`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
