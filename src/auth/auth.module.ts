import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { SessionCacheModule } from '../session-cache/session-cache.module.js';
import { SettingsModule } from '../settings/settings.module.js';
import { UsersModule } from '../users/users.module.js';
import { AuthController } from './auth.controller.js';
import { AuthSessions } from './auth-sessions.service.js';
import { CsrfGuard, RolesGuard, SessionGuard } from './guards.js';
import { LoginAttemptLimiter } from './login-attempts.js';
import { SessionSecrets } from './session-secrets.js';

/**
 * Cookie-session auth. The guards are global and run in this order: a signed-in session
 * (unless `@Public()`), the route's `@Roles`, then CSRF for unsafe requests with a cookie.
 */
@Module({
  imports: [UsersModule, SessionCacheModule, SettingsModule],
  controllers: [AuthController],
  providers: [
    SessionSecrets,
    AuthSessions,
    LoginAttemptLimiter,
    { provide: APP_GUARD, useClass: SessionGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
    { provide: APP_GUARD, useClass: CsrfGuard },
  ],
  exports: [AuthSessions, SessionSecrets, LoginAttemptLimiter],
})
export class AuthModule {}
