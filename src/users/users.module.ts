import { Module } from '@nestjs/common';
import { DatabaseModule } from '../database/database.module.js';
import {
  OWASP_SCRYPT_PARAMETERS,
  PASSWORD_HASHER_OPTIONS,
  PasswordHasher,
} from './password-hasher.js';
import { NoSessionsYetRevoker, USER_SESSION_REVOKER } from './user-session-revoker.js';
import { UsersController } from './users.controller.js';
import { UsersRepository } from './users.repository.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [DatabaseModule],
  controllers: [UsersController],
  providers: [
    UsersRepository,
    UsersService,
    PasswordHasher,
    // Production runs with the OWASP parameters; tests override this token with cheaper ones.
    { provide: PASSWORD_HASHER_OPTIONS, useValue: OWASP_SCRYPT_PARAMETERS },
    // PLACEHOLDER until auth binds the session cache's user index here.
    { provide: USER_SESSION_REVOKER, useClass: NoSessionsYetRevoker },
  ],
  exports: [UsersService, PasswordHasher],
})
export class UsersModule {}
