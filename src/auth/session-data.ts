import 'express-session';

/**
 * What auth keeps in a session, beside what the session store manages (`userId`, `createdAt`,
 * `absoluteExpiresAt`, `storedExpiresAt`: src/session-cache/session-store.ts).
 */
declare module 'express-session' {
  interface SessionData {
    username?: string;
    csrfToken?: string;
    userAgent?: string;
    ip?: string;
  }
}

export {};
