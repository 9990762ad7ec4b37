import { randomBytes } from 'node:crypto';
import { MemorySessionBackend } from '../../src/session-cache/backends/memory-session.backend.js';
import type {
  SessionBackend,
  SessionBackendKind,
  StoredSession,
} from '../../src/session-cache/session-backend.js';
import { SessionStoreUnavailableError } from '../../src/session-cache/session-backend.js';
import type { User } from '../../src/users/user.js';

const HOUR_MS = 60 * 60_000;

export interface SessionShape {
  /** Signed in as this user (default: a session of no one, as the swap copies them too). */
  user?: Pick<User, 'id' | 'username'>;
  sid?: string;
  /** From now; default one hour. */
  expiresInMs?: number;
  /** Epoch ms of the first save; default now. */
  createdAt?: number;
  lastSeenAt?: number;
  /** Extra session fields, merged into what the session store would write. */
  data?: Record<string, unknown>;
}

/** A session as KeelSessionStore writes it to a backend (same fields, same JSON). */
export function aSession(shape: SessionShape = {}): StoredSession {
  const now = Date.now();
  const createdAt = shape.createdAt ?? now;
  return {
    sid: shape.sid ?? randomBytes(18).toString('base64url'),
    data: JSON.stringify({
      cookie: { originalMaxAge: null, httpOnly: true, path: '/', sameSite: 'lax' },
      createdAt,
      absoluteExpiresAt: createdAt + 24 * HOUR_MS,
      ...(shape.user ? { userId: shape.user.id, username: shape.user.username } : {}),
      ...shape.data,
    }),
    userId: shape.user?.id ?? null,
    expiresAt: now + (shape.expiresInMs ?? HOUR_MS),
    lastSeenAt: shape.lastSeenAt ?? now,
  };
}

/** `count` sessions, spread over `users` in turn. */
export function sessionsOf(users: Pick<User, 'id' | 'username'>[], count: number): StoredSession[] {
  return Array.from({ length: count }, (_, index) =>
    aSession({ user: users[index % users.length] }),
  );
}

export async function seed(backend: SessionBackend, sessions: StoredSession[]): Promise<void> {
  for (const session of sessions) await backend.put(session);
}

/** Every session a backend holds, by id. */
export async function contentsOf(backend: SessionBackend): Promise<Map<string, StoredSession>> {
  const found = new Map<string, StoredSession>();
  for await (const session of backend.entries()) found.set(session.sid, session);
  return found;
}

/**
 * A shared backend (as Redis or PostgreSQL are to the replicas) kept in this process: several
 * fakes of one `SharedStore` are the "same Redis" seen by several replicas. Calls can be made
 * to fail as an unreachable backend does.
 */
export class FakeSharedBackend implements SessionBackend {
  readonly shared = true;
  closed = false;
  /** Calls named here reject with SessionStoreUnavailableError. */
  readonly failing = new Set<keyof SessionBackend>();
  /** Every call made, in order (its name). */
  readonly calls: (keyof SessionBackend)[] = [];

  constructor(
    readonly kind: Exclude<SessionBackendKind, 'memory'>,
    readonly store: MemorySessionBackend = new MemorySessionBackend(),
  ) {}

  /** Another handle on the same backend (another connection, another replica's), same faults. */
  sibling(): FakeSharedBackend {
    const other = new FakeSharedBackend(this.kind, this.store);
    for (const name of this.failing) other.failing.add(name);
    return other;
  }

  get = (sid: string) => this.call('get', () => this.store.get(sid));
  getMany = (sids: readonly string[]) => this.call('getMany', () => this.store.getMany(sids));
  put = (session: StoredSession) => this.call('put', () => this.store.put(session));
  putManyIfAbsent = (sessions: readonly StoredSession[]) =>
    this.call('putManyIfAbsent', () => this.store.putManyIfAbsent(sessions));
  update = (session: StoredSession) => this.call('update', () => this.store.update(session));
  touch = (sid: string, expiresAt: number, lastSeenAt: number) =>
    this.call('touch', () => this.store.touch(sid, expiresAt, lastSeenAt));
  destroy = (sid: string) => this.call('destroy', () => this.store.destroy(sid));
  length = () => this.call('length', () => this.store.length());
  clear = () => this.call('clear', () => this.store.clear());
  listByUser = (userId: string) => this.call('listByUser', () => this.store.listByUser(userId));
  destroyByUser = (userId: string, exceptSid?: string) =>
    this.call('destroyByUser', () => this.store.destroyByUser(userId, exceptSid));
  ping = () => this.call('ping', async () => undefined);

  entries(): AsyncIterable<StoredSession> {
    this.calls.push('entries');
    if (this.failing.has('entries')) throw this.unavailable('entries');
    if (this.closed) throw new Error(`${this.kind} backend used after close (entries)`);
    return this.store.entries();
  }

  async close(): Promise<void> {
    this.calls.push('close');
    this.closed = true;
  }

  private async call<T>(name: keyof SessionBackend, work: () => Promise<T>): Promise<T> {
    this.calls.push(name);
    if (this.failing.has(name)) throw this.unavailable(name);
    // As a real backend's closed client: a call after close() is a bug the test should see.
    if (this.closed) throw new Error(`${this.kind} backend used after close (${name})`);
    return work();
  }

  private unavailable(name: string): SessionStoreUnavailableError {
    return new SessionStoreUnavailableError(this.kind, `${name}: connection refused (test)`);
  }
}
