import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DatabaseService } from '../database/database.service.js';
import { DatabaseSessionBackend } from './backends/database-session.backend.js';
import { MemorySessionBackend } from './backends/memory-session.backend.js';
import { RedisSessionBackend } from './backends/redis-session.backend.js';
import { MemoryEvictions } from './memory-evictions.js';
import { ReadCachedSessionBackend } from './read-cache/read-cached-session.backend.js';
import { SessionReadCache } from './read-cache/session-read-cache.js';
import type { SessionBackend, SessionBackendKind } from './session-backend.js';

/** Builds the backend a setting names, and checks that one can be reached (the preflight). */
@Injectable()
export class SessionBackendFactory {
  constructor(
    private readonly config: AppConfig,
    private readonly database: DatabaseService,
    private readonly evictions: MemoryEvictions,
    private readonly readCache: SessionReadCache,
  ) {}

  /**
   * A new backend of `kind`. With `waitForConnection` (a swap, a preflight) Redis must answer
   * now; without it (start-up) the backend keeps connecting in the background, so a process
   * that starts while Redis is down serves as soon as Redis is back.
   */
  async build(
    kind: SessionBackendKind,
    { waitForConnection }: { waitForConnection: boolean },
  ): Promise<SessionBackend> {
    switch (kind) {
      case 'memory': {
        const backend: MemorySessionBackend = new MemorySessionBackend({
          onEvict: () => this.evictions.record(backend.maxEntries),
        });
        return backend;
      }
      case 'database':
        // What this process cached while another backend was active may be out of date.
        this.readCache.invalidateAll();
        return new ReadCachedSessionBackend(
          new DatabaseSessionBackend(this.database.db),
          this.readCache,
        );
      case 'redis': {
        if (!this.config.redisUrl) {
          throw new Error(
            'REDIS_URL is not set: start Keel with REDIS_URL to use the redis backend',
          );
        }
        return RedisSessionBackend.connect(this.config.redisUrl, this.config.redisPrefix, {
          waitForConnection,
        });
      }
    }
  }

  /** Resolves when a new backend of `kind` answers; rejects saying why not. Keeps nothing open. */
  async check(kind: SessionBackendKind): Promise<void> {
    const candidate = await this.build(kind, { waitForConnection: true });
    try {
      await candidate.ping();
    } finally {
      await candidate.close();
    }
  }
}
