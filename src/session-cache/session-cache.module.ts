import { Module } from '@nestjs/common';
import { DatabaseModule } from '../database/database.module.js';
import { SettingsModule } from '../settings/settings.module.js';
import { ActiveSessionBackend } from './active-session-backend.js';
import { AppConfig } from '../config/app-config.js';
import { MemoryEvictions } from './memory-evictions.js';
import { SessionChangeSubscriber } from './read-cache/session-change-subscriber.js';
import { SessionReadCache } from './read-cache/session-read-cache.js';
import { SessionBackendFactory } from './session-backend-factory.js';
import { SessionCacheEvents } from './session-cache.events.js';
import { SessionCacheFollower } from './session-cache-follower.js';
import { SessionCacheSettingsListener } from './session-cache-settings.listener.js';
import { SessionCacheService } from './session-cache.service.js';
import { SessionHandover } from './session-handover.js';
import { SessionSweeper } from './session-sweeper.js';
import { SessionSwap } from './session-swap.js';

/**
 * Where sessions live. Other modules use `SessionCacheService` (the stores, a user's sessions,
 * status); the other providers are its parts.
 */
@Module({
  imports: [DatabaseModule, SettingsModule],
  providers: [
    SessionCacheService,
    ActiveSessionBackend,
    SessionBackendFactory,
    MemoryEvictions,
    SessionSwap,
    SessionCacheEvents,
    SessionHandover,
    SessionCacheSettingsListener,
    SessionCacheFollower,
    SessionSweeper,
    {
      provide: SessionReadCache,
      inject: [AppConfig],
      // Leased where other replicas write the same table; one SQLite process sees all writes.
      useFactory: (config: AppConfig) =>
        new SessionReadCache({ leased: config.database.dialect === 'postgres' }),
    },
    SessionChangeSubscriber,
  ],
  exports: [SessionCacheService, MemoryEvictions, SessionReadCache],
})
export class SessionCacheModule {}
