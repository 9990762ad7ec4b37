import { Logger, type LoggerService } from '@nestjs/common';
import { createRedisClient, redisLibrary, type RedisClient } from '../../common/redis-library.js';
import { SessionStoreUnavailableError, withTimeout } from '../session-backend.js';

export interface RedisConnectionOptions {
  /** How long one connection attempt may take. */
  connectTimeoutMs?: number;
  /** How long any operation may wait for Redis before failing as unavailable. */
  commandTimeoutMs?: number;
  /** Cap of the reconnect backoff; reconnecting itself never stops. */
  maxReconnectDelayMs?: number;
  logger?: Pick<LoggerService, 'log' | 'warn'>;
}

/** Redis 7.0 brought PEXPIRETIME and the NX/GT expiry conditions the backend relies on. */
const MINIMUM_REDIS_MAJOR = 7;

/**
 * Error replies that mean "Redis is there but cannot serve now" (still loading its dataset, a
 * script running too long, a replica or failover in progress), as opposed to a bad command.
 */
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/;

/**
 * The redis backend's client, failing fast while Redis is down: no offline queue (a command is
 * refused at once instead of waiting for a reconnect), every operation bounded by
 * `commandTimeoutMs`, failures thrown as SessionStoreUnavailableError. It reconnects forever
 * with capped backoff, says so once per outage, and serves again by itself once Redis is back.
 */
export class RedisSessionConnection {
  private readonly client: RedisClient;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  private readonly maxReconnectDelayMs: number;
  private readonly logger: Pick<LoggerService, 'log' | 'warn'>;
  /** Settles when the first connection is ready (or, when not retrying it, failed). */
  private readonly firstConnection: Promise<void>;
  private hasBeenReady = false;
  private outageLogged = false;
  private closed = false;

  /** `retryFirstConnection`: keep trying forever from the start (else the first failure ends it). */
  constructor(
    url: string,
    options: RedisConnectionOptions,
    private readonly retryFirstConnection: boolean,
  ) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2000;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? 2000;
    this.logger = options.logger ?? new Logger('RedisSessionBackend');
    this.client = createRedisClient({
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
    if (retryFirstConnection) this.firstConnection.catch(() => undefined);
  }

  /**
   * Resolves once Redis answers and is 7.0 or newer; rejects with SessionStoreUnavailableError
   * (and closes) as soon as the first attempt fails or times out.
   */
  async ready(): Promise<void> {
    try {
      // connectTimeoutMs bounds the socket; this bounds the handshake after it too.
      await withTimeout(
        this.firstConnection,
        this.connectTimeoutMs + this.commandTimeoutMs,
        () => new SessionStoreUnavailableError('redis', 'no answer while connecting'),
      );
      await this.requireSupportedVersion();
    } catch (error) {
      await this.close();
      throw this.toStoreError(error);
    }
  }

  /**
   * Runs one operation against a ready client within `commandTimeoutMs`. MULTI/EXEC is not
   * refused by node-redis while offline (only single commands are), hence the ready check here.
   */
  async run<T>(operation: (client: RedisClient) => Promise<T>): Promise<T> {
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
    // A failed first connection is the caller's to report.
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
    if (error instanceof redisLibrary().ErrorReply && !UNAVAILABLE_REPLIES.test(error.message))
      return error;
    return new SessionStoreUnavailableError('redis', errorMessage(error), { cause: error });
  }
}

/** By shape: socket errors may come from another realm, where `instanceof Error` fails. */
function errorMessage(error: unknown): string {
  const { message, name } = (error ?? {}) as { message?: unknown; name?: unknown };
  if (typeof message === 'string' && message) return message;
  return typeof name === 'string' ? name : String(error);
}
