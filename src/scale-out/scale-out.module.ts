import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DatabaseModule } from '../database/database.module.js';
import { DatabaseService } from '../database/database.service.js';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import { SettingsModule } from '../settings/settings.module.js';
import { PostgresSettingsAnnouncer } from './postgres-settings-announcer.js';
import { RedisSettingsAnnouncer } from './redis-settings-announcer.js';
import { SettingsAnnouncements } from './settings-announcements.js';
import { SETTINGS_ANNOUNCER, type SettingsAnnouncer } from './settings-announcer.js';
import { SplitBrainGuard } from './split-brain-guard.js';

/**
 * What it takes to run several replicas beyond the shared database: settings changes announced
 * to every replica (Redis pub/sub when REDIS_URL is set, else PostgreSQL LISTEN/NOTIFY, nothing
 * on SQLite) plus the reconciliation that catches missed ones, and the split-brain guard against
 * a process-local session backend. The registry of live replicas is RuntimeStateModule's
 * `InstanceRegistry`; the session cache's cross-replica swap lives in the session cache.
 */
@Module({
  imports: [DatabaseModule, SettingsModule],
  providers: [
    {
      provide: SETTINGS_ANNOUNCER,
      inject: [AppConfig, DatabaseService, RuntimeStateService],
      useFactory: (
        config: AppConfig,
        database: DatabaseService,
        runtime: RuntimeStateService,
      ): SettingsAnnouncer | null => {
        if (config.redisUrl) {
          return new RedisSettingsAnnouncer(
            config.redisUrl,
            config.redisPrefix,
            runtime.instanceId,
          );
        }
        if (config.database.dialect === 'postgres') {
          return new PostgresSettingsAnnouncer(
            config.database.url,
            database.db,
            runtime.instanceId,
          );
        }
        return null;
      },
    },
    SettingsAnnouncements,
    SplitBrainGuard,
  ],
})
export class ScaleOutModule {}
