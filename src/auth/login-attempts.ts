import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { createRedisClient, type RedisClient } from '../common/redis-library.js';
import { AppConfig } from '../config/app-config.js';
import { ApiError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';
import { SettingsService } from '../settings/settings.service.js';

/** The window of `auth.loginMaxAttempts` (docs/api.md: "per 15 minutes"). */
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
/** How long any call to Redis may take before counting falls back to this process. */
const REDIS_COMMAND_TIMEOUT_MS = 1000;
/** An outage of the counters' Redis is logged at most this often. */
const OUTAGE_LOG_EVERY_MS = 60_000;
/**
 * The counters never refuse by themselves: `reserve` compares the count with
 * `auth.loginMaxAttempts` as it is at that moment, so a settings change applies at once.
 */
const NEVER_REFUSES = 2 ** 31;

export type AttemptScope = 'login' | 'setup' | 'password';

/** An attempt that was counted before it was checked; a success gives the count back. */
export interface AttemptReservation {
  /** The attempt succeeded: it was not a failure, so it stops counting. */
  succeeded(): Promise<void>;
  /** The attempt was never judged (the check itself failed: a database outage): uncounted. */
  cancelled(): Promise<void>;
  /** `check`'s outcome; if the check itself fails, the attempt is cancelled first. */
  judge<T>(check: Promise<T>): Promise<T>;
}

/**
 * Limits failed attempts (login, the setup token, password changes) per username and per client
 * address, in fixed 15-minute windows, to `auth.loginMaxAttempts`: past it, `429
 * too_many_requests` with `Retry-After`, even for the right password.
 *
 * The limit holds under concurrency because an attempt is counted *before* the expensive check
 * (scrypt, a token comparison), atomically (rate-limiter-flexible: a Lua script in Redis, a
 * synchronous increment in memory), and given back when it succeeds: N parallel wrong passwords
 * give at most `loginMaxAttempts` answers of 401 and the rest 429. The address is counted first:
 * a blocked address does not even count against the usernames it tries.
 *
 * With REDIS_URL the counts live in Redis, so the limit holds across replicas. While Redis cannot
 * be reached (no connection, or no answer within a second) each replica counts alone, in memory
 * (rate-limiter-flexible's insurance limiter), and says so in the log at most once a minute.
 */
@Injectable()
export class LoginAttemptLimiter implements OnApplicationShutdown {
  private readonly logger = new Logger(LoginAttemptLimiter.name);
  private readonly counters: RateLimiterRedis | RateLimiterMemory;
  private readonly client: RedisClient | undefined;
  private lastOutageLineAt = 0;

  constructor(
    config: AppConfig,
    private readonly settings: SettingsService,
  ) {
    const window = { points: NEVER_REFUSES, duration: LOGIN_WINDOW_MS / 1000 };
    const memory = new RateLimiterMemory({ ...window, keyPrefix: 'attempts' });
    if (!config.redisUrl) {
      this.counters = memory;
      return;
    }
    const client: RedisClient = createRedisClient({
      url: config.redisUrl,
      disableOfflineQueue: true,
      commandOptions: { timeout: REDIS_COMMAND_TIMEOUT_MS },
      socket: {
        connectTimeout: 2000,
        reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 5000),
      },
    });
    // Without a listener a lost connection would crash the process; the outage is logged by
    // `observed` when a count actually falls back, not per reconnect attempt.
    client.on('error', () => undefined);
    client.connect().catch(() => undefined);
    this.client = client;
    this.counters = new RateLimiterRedis({
      ...window,
      storeClient: this.observed(client),
      useRedisPackage: true,
      rejectIfRedisNotReady: true,
      keyPrefix: `${config.redisPrefix}attempts`,
      insuranceLimiter: memory,
    });
  }

  /**
   * Counts an attempt of `scope` from `ip` (and for `username`, when there is one) before it is
   * checked. Throws 429 when the address or the username had used up its attempts already.
   */
  async reserve(scope: AttemptScope, ip: string, username?: string): Promise<AttemptReservation> {
    const max = this.settings.current.values.auth.loginMaxAttempts;
    const ipKey = `${scope}:ip:${ip}`;
    const userKey =
      username === undefined
        ? undefined
        : `${scope}:user:${username.normalize('NFKC').toLowerCase()}`;
    if (this.client && !this.client.isReady) this.outage('not connected');
    const byAddress = await this.counters.consume(ipKey);
    if (byAddress.consumedPoints > max) throw tooManyAttempts(byAddress);
    if (userKey !== undefined) {
      const byUser = await this.counters.consume(userKey);
      if (byUser.consumedPoints > max) {
        // The username is locked, not the address: the address does not pay for the refusal
        // (one shared address, a NAT, and another user behind it).
        await this.giveBack(ipKey);
        throw tooManyAttempts(byUser);
      }
    }
    const reservation: AttemptReservation = {
      // A success clears the username's count and gives the address its attempt back (one
      // address, many accounts: its other failures still count).
      succeeded: async () => {
        await Promise.all([
          this.giveBack(ipKey),
          userKey === undefined ? undefined : this.counters.delete(userKey),
        ]);
      },
      cancelled: async () => {
        await Promise.all(
          [ipKey, ...(userKey === undefined ? [] : [userKey])].map((key) => this.giveBack(key)),
        );
      },
      judge: (check) =>
        check.catch(async (error: unknown) => {
          await reservation.cancelled();
          throw error;
        }),
    };
    return reservation;
  }

  /** Gives back one attempt; a window that ended meanwhile is not pushed below nothing. */
  private async giveBack(key: string): Promise<void> {
    const count = await this.counters.reward(key);
    if (count.consumedPoints < 0) await this.counters.delete(key);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.client?.isOpen) await this.client.close();
    else this.client?.destroy();
  }

  /**
   * The client as the counters use it, with every failed call noted: a failed call makes the
   * counters fall back to memory, which the log must say (once a minute, not once a call).
   */
  private observed(client: RedisClient): RedisClient {
    return new Proxy(client, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        // Called on the client itself, never the proxy: node-redis's methods need their `this`.
        if (property === 'multi') return (value as (...a: unknown[]) => unknown).bind(target);
        return (...args: unknown[]) => {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (result instanceof Promise) {
            return result.catch((error: unknown) => {
              this.outage(error instanceof Error ? error.message : String(error));
              throw error;
            });
          }
          return result;
        };
      },
    });
  }

  private outage(reason: string): void {
    const now = Date.now();
    if (now - this.lastOutageLineAt < OUTAGE_LOG_EVERY_MS) return;
    this.lastOutageLineAt = now;
    this.logger.warn(
      `Redis cannot be reached for attempt limits (${reason}): this replica counts failed attempts alone, in memory, until it is back`,
    );
  }
}

function tooManyAttempts(count: RateLimiterRes): ApiError {
  const retryAfter = Math.max(1, Math.ceil(count.msBeforeNext / 1000));
  return new ApiError(
    429,
    ErrorCode.TooManyRequests,
    `Too many failed attempts: try again in ${retryAfter} seconds`,
    undefined,
    { 'Retry-After': String(retryAfter) },
  );
}
