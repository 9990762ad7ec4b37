import { Injectable, Logger } from '@nestjs/common';

/**
 * Ends every session of a user. UsersService calls it after a committed change that takes
 * access away (delete, disable, demotion, a new password), so the change takes effect at once
 * rather than at the sessions' timeouts. Bound to the session cache's user index by the auth
 * work; `exceptSessionId` keeps the caller's own session (password change).
 */
export interface UserSessionRevoker {
  /** Resolves to the number of sessions ended; rejects when the session store cannot be reached. */
  revokeAll(userId: string, exceptSessionId?: string): Promise<number>;
}

export const USER_SESSION_REVOKER = Symbol('USER_SESSION_REVOKER');

/**
 * PLACEHOLDER, to be replaced by the session cache's revoker when auth lands: there are no
 * user sessions yet, so there is nothing to end.
 */
@Injectable()
export class NoSessionsYetRevoker implements UserSessionRevoker {
  private readonly logger = new Logger(NoSessionsYetRevoker.name);

  revokeAll(userId: string): Promise<number> {
    this.logger.debug(`No session store bound yet: no sessions of user ${userId} to end`);
    return Promise.resolve(0);
  }
}
