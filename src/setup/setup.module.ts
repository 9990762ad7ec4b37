import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthModule } from '../auth/auth.module.js';
import { DatabaseModule } from '../database/database.module.js';
import { SettingsModule } from '../settings/settings.module.js';
import { UsersModule } from '../users/users.module.js';
import { SetupGate } from './setup-gate.guard.js';
import { SetupPageController } from './setup-page.controller.js';
import { SetupTokens } from './setup-tokens.js';
import { SetupController } from './setup.controller.js';
import { SetupRepository } from './setup.repository.js';
import { SetupService } from './setup.service.js';

/**
 * First-run setup: its state (one database row), the setup token, `/api/setup`, the operator
 * page `/setup`, unattended setup from the environment, and the gate that keeps the rest of
 * `/api` closed until setup is done. Imports the modules whose start-up it needs first
 * (migrations, settings), so its own start-up hook runs after theirs.
 */
@Module({
  imports: [DatabaseModule, SettingsModule, UsersModule, AuthModule],
  controllers: [SetupController, SetupPageController],
  providers: [
    SetupRepository,
    SetupTokens,
    SetupService,
    // Must run before AuthModule's guards: AppModule lists this module first (setup-gate.guard.ts).
    { provide: APP_GUARD, useClass: SetupGate },
  ],
})
export class SetupModule {}
