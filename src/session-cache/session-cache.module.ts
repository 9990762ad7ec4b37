import { Module } from '@nestjs/common';
import { DatabaseModule } from '../database/database.module.js';
import { SettingsModule } from '../settings/settings.module.js';
import { SessionCacheService } from './session-cache.service.js';

@Module({
  imports: [DatabaseModule, SettingsModule],
  providers: [SessionCacheService],
  exports: [SessionCacheService],
})
export class SessionCacheModule {}
