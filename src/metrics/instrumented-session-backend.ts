import type { Counter } from 'prom-client';
import type {
  SessionBackend,
  SessionBackendKind,
  StoredSession,
} from '../session-cache/session-backend.js';

export type SessionOperation =
  | 'get'
  | 'get_many'
  | 'put'
  | 'put_many_if_absent'
  | 'update'
  | 'touch'
  | 'destroy'
  | 'entries'
  | 'length'
  | 'clear'
  | 'list_by_user'
  | 'destroy_by_user'
  | 'ping';

export interface SessionOperationCounters {
  readonly operations: Counter<'backend' | 'operation'>;
  readonly errors: Counter<'backend' | 'operation'>;
}

/**
 * A session backend that counts each call, and each call that failed, by backend and operation.
 * What requests reach (the session store, the own-sessions API, revocation) goes through one
 * of these; the session cache builds one per active backend. Counting is one counter increment
 * per call: the label objects are made once here, not per call.
 */
export class InstrumentedSessionBackend implements SessionBackend {
  private readonly labels: Readonly<
    Record<SessionOperation, { backend: string; operation: string }>
  >;

  constructor(
    readonly inner: SessionBackend,
    private readonly counters: SessionOperationCounters,
  ) {
    const labels = (operation: SessionOperation) => ({ backend: inner.kind, operation });
    this.labels = {
      get: labels('get'),
      get_many: labels('get_many'),
      put: labels('put'),
      put_many_if_absent: labels('put_many_if_absent'),
      update: labels('update'),
      touch: labels('touch'),
      destroy: labels('destroy'),
      entries: labels('entries'),
      length: labels('length'),
      clear: labels('clear'),
      list_by_user: labels('list_by_user'),
      destroy_by_user: labels('destroy_by_user'),
      ping: labels('ping'),
    };
  }

  get kind(): SessionBackendKind {
    return this.inner.kind;
  }

  get shared(): boolean {
    return this.inner.shared;
  }

  get(sid: string): Promise<StoredSession | undefined> {
    return this.count('get', () => this.inner.get(sid));
  }

  getMany(sids: readonly string[]): Promise<StoredSession[]> {
    return this.count('get_many', () => this.inner.getMany(sids));
  }

  putManyIfAbsent(sessions: readonly StoredSession[]): Promise<string[]> {
    return this.count('put_many_if_absent', () => this.inner.putManyIfAbsent(sessions));
  }

  put(session: StoredSession): Promise<void> {
    return this.count('put', () => this.inner.put(session));
  }

  update(session: StoredSession): Promise<boolean> {
    return this.count('update', () => this.inner.update(session));
  }

  touch(sid: string, expiresAt: number, lastSeenAt: number): Promise<void> {
    return this.count('touch', () => this.inner.touch(sid, expiresAt, lastSeenAt));
  }

  destroy(sid: string): Promise<void> {
    return this.count('destroy', () => this.inner.destroy(sid));
  }

  async *entries(): AsyncIterable<StoredSession> {
    const labels = this.labels.entries;
    this.counters.operations.inc(labels);
    try {
      yield* this.inner.entries();
    } catch (error) {
      this.counters.errors.inc(labels);
      throw error;
    }
  }

  length(): Promise<number> {
    return this.count('length', () => this.inner.length());
  }

  clear(): Promise<void> {
    return this.count('clear', () => this.inner.clear());
  }

  listByUser(userId: string): Promise<StoredSession[]> {
    return this.count('list_by_user', () => this.inner.listByUser(userId));
  }

  destroyByUser(userId: string, exceptSid?: string): Promise<string[]> {
    return this.count('destroy_by_user', () => this.inner.destroyByUser(userId, exceptSid));
  }

  ping(): Promise<void> {
    return this.count('ping', () => this.inner.ping());
  }

  /** The session cache closes the backend it built; closing is not a request's call. */
  close(): Promise<void> {
    return this.inner.close();
  }

  private count<T>(operation: SessionOperation, call: () => Promise<T>): Promise<T> {
    const labels = this.labels[operation];
    this.counters.operations.inc(labels);
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.catch((error: unknown) => {
      this.counters.errors.inc(labels);
      throw error;
    });
  }
}
