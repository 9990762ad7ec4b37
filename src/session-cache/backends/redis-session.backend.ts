import { Logger, type LoggerService } from '@nestjs/common';
import { createClient, ErrorReply } from 'redis';
import {
  type SessionBackend,
  SessionStoreUnavailableError,
  type StoredSession,
  withTimeout,
} from '../session-backend.js';

export interface RedisSessionBackendOptions {
  /** How long one connection attempt may take. */
  connectTimeoutMs?: number;
  /** How long any operation may wait for Redis before failing as unavailable. */
  commandTimeoutMs?: number;
  /** Cap of the reconnect backoff; reconnecting itself never stops. */
  maxReconnectDelayMs?: number;
  /** COUNT hint for SCAN: keys read per page by `entries()`, `length()` and `clear()`. */
  scanCount?: number;
  logger?: Pick<LoggerService, 'log' | 'warn'>;
}

type RedisClient = ReturnType<typeof createClient>;

/** What is stored under `${prefix}sess:${sid}`; the expiry is the key's own (PEXPIREAT). */
interface RedisSessionValue {
  data: string;
  userId: string | null;
  /** Absent in values written before Keel kept it. */
  lastSeenAt?: number;
}

/**
 * `update`: replaces the session only if its key still exists, and moves its user-index entry,
 * atomically (a session destroyed meanwhile is never written back).
 * KEYS: session key, [user index key]; ARGV: value, expiresAt (epoch ms), sid.
 */
const UPDATE_IF_PRESENT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
if KEYS[2] then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  redis.call('PEXPIREAT', KEYS[2], ARGV[2], 'NX')
  redis.call('PEXPIREAT', KEYS[2], ARGV[2], 'GT')
end
return 1`;

/**
 * `touch`: moves the expiry and `lastSeenAt` of a session whose key still exists (the data is
 * rewritten as read, in the same atomic step, so no concurrent write is lost). Returns the
 * session's userId (so the caller can move its index entry), or nil when there is no session.
 * KEYS: session key; ARGV: expiresAt, lastSeenAt (epoch ms).
 */
const TOUCH_IF_PRESENT = `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local value = cjson.decode(raw)
value['lastSeenAt'] = tonumber(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(value), 'PXAT', ARGV[1])
if type(value['userId']) == 'string' then return value['userId'] end
return false`;

/** Redis 7.0 brought PEXPIRETIME and the NX/GT expiry conditions this backend relies on. */
const MINIMUM_REDIS_MAJOR = 7;

/**
 * Error replies that mean "Redis is there but cannot serve now" (still loading its dataset, a
 * script running too long, a replica or failover in progress), as opposed to a bad command.
 */
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/;

/**
 * Sessions in Redis under a key prefix, so several deployments can share one Redis:
 * - `${prefix}sess:${sid}`: JSON `{data, userId}` whose key expires at the session's expiry, so
 *   a touch only moves the key's expiry and never rewrites (and never races) the data;
 * - `${prefix}user:${userId}`: sorted set of the user's sids scored by expiry, pruned lazily
 *   (ZREMRANGEBYSCORE) and itself expiring with its last session. It is an index, not the truth:
 *   every read through it checks the session key still exists and still names that user.
 *
 * Fails fast while Redis is down: no offline queue (a command is refused at once instead of
 * waiting for a reconnect), every operation bounded by `commandTimeoutMs`, failures thrown as
 * SessionStoreUnavailableError. The client reconnects forever with capped backoff, so the store
 * serves again by itself once Redis is back.
 */
export class RedisSessionBackend implements SessionBackend {
  readonly kind = 'redis';
  readonly shared = true;
  private readonly client: RedisClient;
  private readonly sessionKeyPrefix: string;
  private readonly userKeyPrefix: string;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly maxReconnectDelayMs: number;
  private readonly scanCount: number;
  private readonly logger: Pick<LoggerService, 'log' | 'warn'>;
  /** Settles when the first connection is ready (or, for `connect`, when it failed). */
  private readonly firstConnection: Promise<void>;
  private hasBeenReady = false;
  private outageLogged = false;
  private closed = false;

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
    if (!waitForConnection) {
      backend.firstConnection.catch(() => undefined);
      return backend;
    }
    try {
      // connectTimeoutMs bounds the socket; this bounds the handshake after it too.
      await withTimeout(
        backend.firstConnection,
        backend.connectTimeoutMs + backend.commandTimeoutMs,
        () => new SessionStoreUnavailableError('redis', 'no answer while connecting'),
      );
      await backend.requireSupportedVersion();
      return backend;
    } catch (error) {
      await backend.close();
      throw backend.toStoreError(error);
    }
  }

  private constructor(
    url: string,
    readonly prefix: string,
    options: RedisSessionBackendOptions,
    private readonly retryFirstConnection: boolean,
  ) {
    this.sessionKeyPrefix = `${prefix}sess:`;
    this.userKeyPrefix = `${prefix}user:`;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2000;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? 2000;
    this.scanCount = options.scanCount ?? 500;
    this.logger = options.logger ?? new Logger(RedisSessionBackend.name);
    this.client = createClient({
      url,
      disableOfflineQueue: true,
      commandOptions: { timeout: this.commandTimeoutMs },
      socket: {
        connectTimeout: this.connectTimeoutMs,
        reconnectStrategy: (retries, cause) => this.reconnectDelay(retries, cause),
      },
    });
    // Without an 'error' listener a dropped connection would crash the process.
    this.client.on('error', (error: unknown) => this.onClientError(error));
    this.client.on('ready', () => this.onClientReady());
    this.firstConnection = this.client.connect().then(() => undefined);
  }

  async get(sid: string): Promise<StoredSession | undefined> {
    const [session] = await this.readSessions([sid]);
    return session;
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.client.isOpen) {
      this.client.destroy();
      return;
    }
    // Graceful (replies to commands in flight are awaited), but never stuck on a dead server.
    await withTimeout(
      this.client.close(),
      this.commandTimeoutMs,
      () => new Error('close timed out'),
    ).catch(() => this.client.destroy());
  }

  /**
   * Runs one operation against a ready client within `commandTimeoutMs`. MULTI/EXEC is not
   * refused by node-redis while offline (only single commands are), hence the ready check here.
   */
  private async run<T>(operation: (client: RedisClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new SessionStoreUnavailableError('redis', 'the backend is closed');
    if (!this.client.isReady) throw new SessionStoreUnavailableError('redis', 'not connected');
    try {
      return await withTimeout(
        operation(this.client),
        this.commandTimeoutMs,
        () =>
          new SessionStoreUnavailableError('redis', `no answer within ${this.commandTimeoutMs} ms`),
      );
    } catch (error) {
      throw this.toStoreError(error);
    }
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
  private async readSessions(sids: string[]): Promise<StoredSession[]> {
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

  private async requireSupportedVersion(): Promise<void> {
    const info = await this.run((client) => client.info('server'));
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '0';
    if (Number(version.split('.')[0]) < MINIMUM_REDIS_MAJOR) {
      throw new SessionStoreUnavailableError(
        'redis',
        `Redis ${version} is too old: the session store needs Redis ${MINIMUM_REDIS_MAJOR}.0 or newer`,
      );
    }
  }

  private reconnectDelay(retries: number, cause: Error): number | Error {
    if (this.closed) return new Error('closed');
    if (!this.hasBeenReady && !this.retryFirstConnection) {
      return new Error(`first connection failed: ${errorMessage(cause)}`, { cause });
    }
    return Math.min(this.maxReconnectDelayMs, 50 * 2 ** Math.min(retries, 16));
  }

  private onClientError(error: unknown): void {
    // Emitted on every failed reconnect attempt: say it once per outage, not every retry.
    // A failed `connect` is the caller's to report.
    if (this.closed || this.outageLogged) return;
    if (!this.hasBeenReady && !this.retryFirstConnection) return;
    this.outageLogged = true;
    const reason = errorMessage(error);
    this.logger.warn(
      this.hasBeenReady
        ? `Redis session store connection lost (${reason}); reconnecting`
        : `Redis session store not reachable (${reason}); retrying`,
    );
  }

  private onClientReady(): void {
    if (this.outageLogged) this.logger.log('Redis session store connected again');
    this.outageLogged = false;
    this.hasBeenReady = true;
  }

  private toStoreError(error: unknown): Error {
    if (error instanceof SessionStoreUnavailableError) return error;
    if (error instanceof ErrorReply && !UNAVAILABLE_REPLIES.test(error.message)) return error;
    return new SessionStoreUnavailableError('redis', errorMessage(error), { cause: error });
  }
}

/** By shape: socket errors may come from another realm, where `instanceof Error` fails. */
function errorMessage(error: unknown): string {
  const { message, name } = (error ?? {}) as { message?: unknown; name?: unknown };
  if (typeof message === 'string' && message) return message;
  return typeof name === 'string' ? name : String(error);
}

function encodeValue(session: StoredSession): string {
  const value: RedisSessionValue = {
    data: session.data,
    userId: session.userId,
    lastSeenAt: session.lastSeenAt,
  };
  return JSON.stringify(value);
}

function parseValue(raw: string): RedisSessionValue {
  return JSON.parse(raw) as RedisSessionValue;
}

/** Escapes SCAN MATCH's glob characters, so a prefix matches only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
