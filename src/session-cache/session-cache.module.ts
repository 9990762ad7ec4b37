import { Module } from '@nestjs/common';
import { DatabaseModule } from '../database/database.module.js';
import { SettingsModule } from '../settings/settings.module.js';
import { ActiveSessionBackend } from './active-session-backend.js';
import { MemoryEvictions } from './memory-evictions.js';
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
  ],
  exports: [SessionCacheService, MemoryEvictions],
})
export class SessionCacheModule {}
