import { Module } from '@nestjs/common';
import { DatabaseModule } from '../database/database.module.js';
import { SettingsController } from './settings.controller.js';
import { SettingsEvents } from './settings.events.js';
import { SettingsRepository } from './settings.repository.js';
import { SettingsService } from './settings.service.js';

@Module({
  imports: [DatabaseModule],
  controllers: [SettingsController],
  providers: [SettingsRepository, SettingsService, SettingsEvents],
  exports: [SettingsService, SettingsEvents],
})
export class SettingsModule {}
