import { Module } from '@nestjs/common';
import { DatabaseModule } from '../database/database.module.js';
import {
  OWASP_SCRYPT_PARAMETERS,
  PASSWORD_HASHER_OPTIONS,
  PasswordHasher,
} from './password-hasher.js';
import { SessionCacheModule } from '../session-cache/session-cache.module.js';
import { SessionCacheService } from '../session-cache/session-cache.service.js';
import { USER_SESSION_REVOKER } from './user-session-revoker.js';
import { UsersController } from './users.controller.js';
import { UsersRepository } from './users.repository.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [DatabaseModule, SessionCacheModule],
  controllers: [UsersController],
  providers: [
    UsersRepository,
    UsersService,
    PasswordHasher,
    // Production runs with the OWASP parameters; tests override this token with cheaper ones.
    { provide: PASSWORD_HASHER_OPTIONS, useValue: OWASP_SCRYPT_PARAMETERS },
    // Sessions are revoked through the session cache's user index, on whichever backend is active.
    { provide: USER_SESSION_REVOKER, useExisting: SessionCacheService },
  ],
  exports: [UsersService, PasswordHasher],
})
export class UsersModule {}
