import { Logger } from '@nestjs/common';
import { createRedisClient, type RedisClient } from '../common/redis-library.js';
import {
  type ListenOptions,
  parseAnnouncement,
  type SettingsAnnouncement,
  type SettingsAnnouncer,
  subscriberName,
} from './settings-announcer.js';

const CONNECT_TIMEOUT_MS = 2000;
const COMMAND_TIMEOUT_MS = 2000;
/** The subscriber pings this often, so a silently dropped connection is noticed. */
const SUBSCRIBER_PING_MS = 10_000;

/**
 * Announcements over Redis pub/sub, channel `${REDIS_PREFIX}settings` (so deployments sharing a
 * Redis don't hear each other). One publishing client that reconnects by itself; each `listen`
 * opens a dedicated subscriber connection (named `keel-settings-subscriber:<instanceId>`, so an
 * operator finds it in CLIENT LIST) that does not reconnect: losing it ends `listen`.
 */
export class RedisSettingsAnnouncer implements SettingsAnnouncer {
  private readonly logger = new Logger(RedisSettingsAnnouncer.name);
  readonly channel: string;
  readonly description: string;
  private readonly publisher: RedisClient;
  private outageLogged = false;
  private closed = false;

  constructor(
    private readonly url: string,
    prefix: string,
    private readonly instanceId: string,
  ) {
    this.channel = `${prefix}settings`;
    this.description = `Redis channel ${this.channel}`;
    this.publisher = createRedisClient({
      url,
      name: `keel-settings-publisher:${instanceId}`,
      disableOfflineQueue: true,
      commandOptions: { timeout: COMMAND_TIMEOUT_MS },
      socket: {
        connectTimeout: CONNECT_TIMEOUT_MS,
        reconnectStrategy: (retries) => Math.min(2000, 50 * 2 ** Math.min(retries, 10)),
      },
    });
    // Without an 'error' listener a dropped connection would crash the process.
    this.publisher.on('error', (error: unknown) => {
      if (this.closed || this.outageLogged) return;
      this.outageLogged = true;
      this.logger.warn(
        `Settings announcements cannot reach Redis (${message(error)}); replicas catch up through the reconciliation meanwhile`,
      );
    });
    this.publisher.on('ready', () => {
      if (this.outageLogged) this.logger.log('Settings announcements reach Redis again');
      this.outageLogged = false;
    });
    this.publisher.connect().catch(() => undefined);
  }

  async announce(announcement: SettingsAnnouncement): Promise<void> {
    if (!this.publisher.isReady) throw new Error('not connected to Redis');
    await this.publisher.publish(this.channel, JSON.stringify(announcement));
  }

  async listen({ signal, onAnnouncement, onSubscribed }: ListenOptions): Promise<void> {
    if (signal.aborted) return;
    const subscriber = createRedisClient({
      url: this.url,
      name: subscriberName(this.instanceId),
      pingInterval: SUBSCRIBER_PING_MS,
      socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: false },
    });
    let fail: (error: Error) => void = () => undefined;
    const lost = new Promise<never>((_, reject) => (fail = reject));
    lost.catch(() => undefined);
    subscriber.on('error', (error: unknown) =>
      fail(new Error(`Redis subscriber connection lost: ${message(error)}`)),
    );
    const stopped = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    try {
      await Promise.race([subscriber.connect(), lost]);
      await Promise.race([
        subscriber.subscribe(this.channel, (text) => {
          const announcement = parseAnnouncement(text);
          if (announcement) onAnnouncement(announcement);
        }),
        lost,
      ]);
      onSubscribed();
      await Promise.race([stopped, lost]);
    } finally {
      subscriber.destroy();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.publisher.isOpen) await this.publisher.close().catch(() => this.publisher.destroy());
    else this.publisher.destroy();
  }
}

function message(error: unknown): string {
  const { message: text, name } = (error ?? {}) as { message?: unknown; name?: unknown };
  if (typeof text === 'string' && text) return text;
  return typeof name === 'string' ? name : String(error);
}
