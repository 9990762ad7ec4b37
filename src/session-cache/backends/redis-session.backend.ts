import type { RedisClient } from '../../common/redis-library.js';
import type { SessionBackend, StoredSession } from '../session-backend.js';
import { type RedisConnectionOptions, RedisSessionConnection } from './redis-session.connection.js';
import {
  encodeValue,
  INSERT_MANY_IF_ABSENT,
  parseValue,
  READ_SESSION,
  TOUCH_IF_PRESENT,
  UPDATE_IF_PRESENT,
} from './redis-session.scripts.js';

export interface RedisSessionBackendOptions extends RedisConnectionOptions {
  /** COUNT hint for SCAN: keys read per page by `entries()`, `length()` and `clear()`. */
  scanCount?: number;
}

/**
 * Sessions in Redis under a key prefix, so several deployments can share one Redis:
 * - `${prefix}sess:${sid}`: JSON `{data, userId}` whose key expires at the session's expiry, so
 *   a touch only moves the key's expiry and never rewrites (and never races) the data;
 * - `${prefix}user:${userId}`: sorted set of the user's sids scored by expiry, pruned lazily
 *   (ZREMRANGEBYSCORE) and itself expiring with its last session. It is an index, not the truth:
 *   every read through it checks the session key still exists and still names that user.
 *
 * Fails fast while Redis is down (RedisSessionConnection): failures are thrown as
 * SessionStoreUnavailableError, and the store serves again by itself once Redis is back.
 */
export class RedisSessionBackend implements SessionBackend {
  readonly kind = 'redis';
  readonly shared = true;
  private readonly connection: RedisSessionConnection;
  private readonly sessionKeyPrefix: string;
  private readonly userKeyPrefix: string;
  private readonly scanCount: number;

  /**
   * Connects to Redis at `url`, keeping every key under `prefix`.
   *
   * By default (`waitForConnection: true`) resolves once Redis answers and rejects with
   * SessionStoreUnavailableError as soon as the first attempt fails (refused, timed out) or
   * Redis is older than 7.0: what the settings preflight needs, so an unreachable Redis is
   * refused at once. With `waitForConnection: false` it resolves at once and keeps trying to
   * connect in the background, forever: for a process that starts while Redis is down and
   * should serve as soon as it is back (until then every operation rejects as unavailable).
   */
  static async connect(
    url: string,
    prefix: string,
    options: RedisSessionBackendOptions & { waitForConnection?: boolean } = {},
  ): Promise<RedisSessionBackend> {
    const { waitForConnection = true, ...rest } = options;
    const backend = new RedisSessionBackend(url, prefix, rest, !waitForConnection);
    if (waitForConnection) await backend.connection.ready();
    return backend;
  }

  private constructor(
    url: string,
    readonly prefix: string,
    options: RedisSessionBackendOptions,
    retryFirstConnection: boolean,
  ) {
    this.sessionKeyPrefix = `${prefix}sess:`;
    this.userKeyPrefix = `${prefix}user:`;
    this.scanCount = options.scanCount ?? 500;
    this.connection = new RedisSessionConnection(url, options, retryFirstConnection);
  }

  async get(sid: string): Promise<StoredSession | undefined> {
    const reply = (await this.run((client) =>
      client.eval(READ_SESSION, { keys: [this.sessionKey(sid)] }),
    )) as [string, number] | null;
    return reply ? this.toStoredSession(sid, reply[0], reply[1]) : undefined;
  }

  getMany(sids: readonly string[]): Promise<StoredSession[]> {
    return this.readSessions(sids);
  }

  async putManyIfAbsent(sessions: readonly StoredSession[]): Promise<string[]> {
    const now = Date.now();
    const live = sessions.filter((session) => session.expiresAt > now);
    if (live.length === 0) return [];
    const keys = live.map((session) => this.sessionKey(session.sid));
    const userKeyAt = new Map<string, number>();
    const args: string[] = [];
    for (const session of live) {
      let at = 0;
      if (session.userId !== null) {
        at = userKeyAt.get(session.userId) ?? keys.push(this.userKey(session.userId));
        userKeyAt.set(session.userId, at);
      }
      args.push(encodeValue(session), String(session.expiresAt), session.sid, String(at));
    }
    const inserted = await this.run((client) =>
      client.eval(INSERT_MANY_IF_ABSENT, { keys, arguments: args }),
    );
    return (inserted as unknown[]).map(String);
  }

  put(session: StoredSession): Promise<void> {
    if (session.expiresAt <= Date.now()) return this.destroy(session.sid);
    return this.run(async (client) => {
      const multi = client.multi().set(this.sessionKey(session.sid), encodeValue(session), {
        expiration: { type: 'PXAT', value: session.expiresAt },
      });
      // An index entry left under a previous user is skipped and pruned by that user's reads.
      if (session.userId !== null)
        this.indexInto(multi, session.userId, session.sid, session.expiresAt);
      await multi.exec();
    });
  }

  async update(session: StoredSession): Promise<boolean> {
    if (session.expiresAt <= Date.now()) {
      await this.destroy(session.sid);
      return false;
    }
    const keys = [this.sessionKey(session.sid)];
    if (session.userId !== null) keys.push(this.userKey(session.userId));
    const updated = await this.run((client) =>
      client.eval(UPDATE_IF_PRESENT, {
        keys,
        arguments: [encodeValue(session), String(session.expiresAt), session.sid],
      }),
    );
    return Number(updated) === 1;
  }

  async touch(sid: string, expiresAt: number, lastSeenAt: number): Promise<void> {
    if (expiresAt <= Date.now()) return this.destroy(sid);
    const userId = await this.run((client) =>
      client.eval(TOUCH_IF_PRESENT, {
        keys: [this.sessionKey(sid)],
        arguments: [String(expiresAt), String(lastSeenAt)],
      }),
    );
    if (typeof userId !== 'string') return;
    // The index score must follow the expiry, or pruning would drop a live session from it.
    // Done after the touch: a session destroyed in between leaves an entry its user's next
    // read prunes (the index is checked against the session keys, never trusted alone).
    await this.run(async (client) => {
      const multi = client.multi();
      this.indexInto(multi, userId, sid, expiresAt);
      await multi.exec();
    });
  }

  async destroy(sid: string): Promise<void> {
    const raw = await this.run((client) => client.getDel(this.sessionKey(sid)));
    const userId = raw === null ? null : parseValue(raw).userId;
    if (userId !== null) await this.run((client) => client.zRem(this.userKey(userId), sid));
  }

  async *entries(): AsyncIterable<StoredSession> {
    for await (const keys of this.scan(`${escapeGlob(this.sessionKeyPrefix)}*`)) {
      for (const session of await this.readSessions(
        keys.map((key) => key.slice(this.sessionKeyPrefix.length)),
      )) {
        yield session;
      }
    }
  }

  async length(): Promise<number> {
    // SCAN may return a key twice while Redis rehashes; count each once.
    const seen = new Set<string>();
    for await (const keys of this.scan(`${escapeGlob(this.sessionKeyPrefix)}*`)) {
      for (const key of keys) seen.add(key);
    }
    return seen.size;
  }

  async clear(): Promise<void> {
    for (const keyPrefix of [this.sessionKeyPrefix, this.userKeyPrefix]) {
      for await (const keys of this.scan(`${escapeGlob(keyPrefix)}*`)) {
        if (keys.length > 0) await this.run((client) => client.unlink(keys));
      }
    }
  }

  async listByUser(userId: string): Promise<StoredSession[]> {
    const userKey = this.userKey(userId);
    const sids = await this.run(async (client) => {
      const [, members] = (await client
        .multi()
        .zRemRangeByScore(userKey, '-inf', Date.now())
        .zRange(userKey, 0, -1)
        .exec()) as unknown as [number, string[]];
      return members;
    });
    if (sids.length === 0) return [];
    const sessions = await this.readSessions(sids);
    const owned = sessions.filter((session) => session.userId === userId);
    const stale = sids.filter((sid) => !owned.some((session) => session.sid === sid));
    if (stale.length > 0) await this.run((client) => client.zRem(userKey, stale));
    return owned;
  }

  async destroyByUser(userId: string, exceptSid?: string): Promise<string[]> {
    const doomed = (await this.listByUser(userId))
      .map((session) => session.sid)
      .filter((sid) => sid !== exceptSid);
    if (doomed.length === 0) return [];
    await this.run(async (client) => {
      await client
        .multi()
        .del(doomed.map((sid) => this.sessionKey(sid)))
        .zRem(this.userKey(userId), doomed)
        .exec();
    });
    return doomed;
  }

  async ping(): Promise<void> {
    await this.run((client) => client.ping());
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  private run<T>(operation: (client: RedisClient) => Promise<T>): Promise<T> {
    return this.connection.run(operation);
  }

  /** SCAN over `pattern`, one page of keys at a time. */
  private async *scan(pattern: string): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      const page = await this.run((client) =>
        client.scan(cursor, { MATCH: pattern, COUNT: this.scanCount }),
      );
      cursor = String(page.cursor);
      yield page.keys.map(String);
    } while (cursor !== '0');
  }

  /** Reads sessions by sid in one round trip; missing or expired ones are left out. */
  private async readSessions(sids: readonly string[]): Promise<StoredSession[]> {
    if (sids.length === 0) return [];
    const replies = await this.run((client) => {
      const multi = client.multi();
      for (const sid of sids) multi.get(this.sessionKey(sid)).pExpireTime(this.sessionKey(sid));
      return multi.exec() as Promise<unknown> as Promise<unknown[]>;
    });
    const sessions: StoredSession[] = [];
    sids.forEach((sid, index) => {
      const session = this.toStoredSession(
        sid,
        replies[2 * index] as string | null,
        replies[2 * index + 1] as number,
      );
      if (session) sessions.push(session);
    });
    return sessions;
  }

  private toStoredSession(
    sid: string,
    raw: string | null,
    expireTime: number,
  ): StoredSession | undefined {
    // PEXPIRETIME is -1 for a key without expiry: not one this backend wrote, so not a session.
    if (raw === null || expireTime <= Date.now()) return undefined;
    const value = parseValue(raw);
    return {
      sid,
      data: value.data,
      userId: value.userId,
      expiresAt: Number(expireTime),
      lastSeenAt: Number(value.lastSeenAt ?? 0),
    };
  }

  /** Adds to the user's index; the index key lives as long as its longest-lived session. */
  private indexInto(
    multi: ReturnType<RedisClient['multi']>,
    userId: string,
    sid: string,
    expiresAt: number,
  ): void {
    const userKey = this.userKey(userId);
    multi
      .zAdd(userKey, { score: expiresAt, value: sid })
      .pExpireAt(userKey, expiresAt, 'NX')
      .pExpireAt(userKey, expiresAt, 'GT');
  }

  private sessionKey(sid: string): string {
    return `${this.sessionKeyPrefix}${sid}`;
  }

  private userKey(userId: string): string {
    return `${this.userKeyPrefix}${userId}`;
  }
}

/** Escapes SCAN MATCH's glob characters, so a prefix matches only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
