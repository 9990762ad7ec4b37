import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createClient } from 'redis';
import { AppConfig } from '../config/app-config.js';
import { ApiError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';
import { SettingsService } from '../settings/settings.service.js';

/** The window of `auth.loginMaxAttempts` (../shared/API.md: "per 15 minutes"). */
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
const MEMORY_KEY_LIMIT = 100_000;

interface Count {
  count: number;
  resetInMs: number;
}

/** Failure counters in fixed windows. One per process (memory) or shared by replicas (Redis). */
interface AttemptCounter {
  peek(key: string): Promise<Count>;
  increment(key: string, windowMs: number): Promise<Count>;
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

class MemoryAttemptCounter implements AttemptCounter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  async peek(key: string): Promise<Count> {
    const window = this.windows.get(key);
    const now = Date.now();
    if (!window || window.resetAt <= now) return { count: 0, resetInMs: 0 };
    return { count: window.count, resetInMs: window.resetAt - now };
  }

  async increment(key: string, windowMs: number): Promise<Count> {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      if (this.windows.size >= MEMORY_KEY_LIMIT) this.sweep(now);
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.count += 1;
    return { count: window.count, resetInMs: window.resetAt - now };
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async close(): Promise<void> {}

  /** Bounded memory under a flood of distinct usernames: drop expired windows, then the oldest. */
  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
    const excess = this.windows.size - MEMORY_KEY_LIMIT + 1;
    if (excess > 0)
      [...this.windows.keys()].slice(0, excess).forEach((k) => this.windows.delete(k));
  }
}

type RedisClient = ReturnType<typeof createClient>;

class RedisAttemptCounter implements AttemptCounter {
  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
  ) {}

  async peek(key: string): Promise<Count> {
    const [count, ttl] = await this.client
      .multi()
      .get(this.prefix + key)
      .pTTL(this.prefix + key)
      .exec();
    return { count: Number(count ?? 0), resetInMs: Math.max(0, Number(ttl)) };
  }

  async increment(key: string, windowMs: number): Promise<Count> {
    const [count, , ttl] = await this.client
      .multi()
      .incr(this.prefix + key)
      .pExpire(this.prefix + key, windowMs, 'NX')
      .pTTL(this.prefix + key)
      .exec();
    return { count: Number(count), resetInMs: Math.max(0, Number(ttl)) };
  }

  async reset(key: string): Promise<void> {
    await this.client.del(this.prefix + key);
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}

/**
 * Counts failed logins per username and per client address in 15-minute windows. Once either
 * reaches `auth.loginMaxAttempts` (read at every check, so a settings change applies at once),
 * login answers `429 too_many_requests` with `Retry-After`, even for the right password. With
 * REDIS_URL the counts live in Redis, so the limit holds across replicas; if Redis cannot be
 * reached, the process falls back to counting in memory rather than not counting at all.
 */
@Injectable()
export class LoginAttemptLimiter implements OnApplicationShutdown {
  private readonly logger = new Logger(LoginAttemptLimiter.name);
  private readonly memory = new MemoryAttemptCounter();
  private readonly shared: RedisAttemptCounter | undefined;

  constructor(
    config: AppConfig,
    private readonly settings: SettingsService,
  ) {
    if (config.redisUrl) {
      const client: RedisClient = createClient({
        url: config.redisUrl,
        disableOfflineQueue: true,
        socket: {
          connectTimeout: 2000,
          reconnectStrategy: (retries) => Math.min(retries * 200, 5000),
        },
      });
      client.on('error', () => undefined);
      client.connect().catch(() => undefined);
      this.shared = new RedisAttemptCounter(client, `${config.redisPrefix}login:`);
    }
  }

  /** Throws 429 when the username or the address has used up its attempts. */
  async check(scope: string, username: string, ip: string): Promise<void> {
    const max = this.settings.current.values.auth.loginMaxAttempts;
    const counts = await Promise.all(
      keys(scope, username, ip).map((key) => this.counter((c) => c.peek(key))),
    );
    const blocked = counts.filter((count) => count.count >= max);
    if (blocked.length > 0) {
      const retryAfter = Math.max(
        1,
        Math.ceil(Math.max(...blocked.map((c) => c.resetInMs)) / 1000),
      );
      throw new ApiError(
        429,
        ErrorCode.TooManyRequests,
        `Too many failed attempts: try again in ${retryAfter} seconds`,
        undefined,
        { 'Retry-After': String(retryAfter) },
      );
    }
  }

  async recordFailure(scope: string, username: string, ip: string): Promise<void> {
    await Promise.all(
      keys(scope, username, ip).map((key) =>
        this.counter((c) => c.increment(key, LOGIN_WINDOW_MS)),
      ),
    );
  }

  /** A success clears the username's count (not the address's: one address, many accounts). */
  async recordSuccess(scope: string, username: string): Promise<void> {
    const [userKey] = keys(scope, username, '');
    await this.counter((c) => c.reset(userKey));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.shared?.close();
  }

  private async counter<T>(use: (counter: AttemptCounter) => Promise<T>): Promise<T> {
    if (this.shared) {
      try {
        return await use(this.shared);
      } catch (error) {
        this.logger.warn(
          `Redis is unreachable for login limits; counting in this process only: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
    }
    return use(this.memory);
  }
}

function keys(scope: string, username: string, ip: string): [string, string] {
  return [`${scope}:user:${username.normalize('NFKC').toLowerCase()}`, `${scope}:ip:${ip}`];
}
