import { Module } from '@nestjs/common';
import { SettingsModule } from '../settings/settings.module.js';
import { UsersModule } from '../users/users.module.js';
import { ConsolePageController } from './console-page.controller.js';
import { RuntimeEventsController } from './runtime-events.controller.js';

/**
 * The operator console: its page (`/console`; the browser code is in web/console) and the live
 * runtime events it follows (`GET /api/runtime/events`). Everything else it shows comes from
 * the API every client uses.
 */
@Module({
  imports: [SettingsModule, UsersModule],
  controllers: [ConsolePageController, RuntimeEventsController],
})
export class ConsoleModule {}
