/**
 * Ends every session of a user. UsersService calls it after a committed change that takes
 * access away (delete, disable, demotion, a new password), so the change takes effect at once
 * rather than at the sessions' timeouts. Bound to the session cache's user index (SessionCacheService) in
 * UsersModule; `exceptSessionId` keeps the caller's own session (password change).
 */
export interface UserSessionRevoker {
  /** Resolves to the number of sessions ended; rejects when the session store cannot be reached. */
  revokeAll(userId: string, exceptSessionId?: string): Promise<number>;
}

export const USER_SESSION_REVOKER = Symbol('USER_SESSION_REVOKER');
