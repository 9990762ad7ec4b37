import type { SessionData } from 'express-session';
import type { SessionBackend } from './session-backend.js';
import { decodeSession } from './session-store.js';

export interface UserSession {
  sid: string;
  data: SessionData;
  expiresAt: number;
  /** Epoch ms of the session's last use; 0 when the backend holds none. */
  lastSeenAt: number;
}

export interface UserSessionsOptions {
  /** The backend to use for this call (the active one, swapped at runtime). */
  backend: () => SessionBackend;
  absoluteTimeoutMs: () => number;
}

/**
 * A user's sessions, through the per-user index every backend keeps: what express-session has
 * no call for (listing a user's sessions, revoking them on password change, demotion,
 * deletion or "sign out elsewhere").
 */
export class UserSessions {
  constructor(private readonly options: UserSessionsOptions) {}

  /** The user's live sessions, oldest first. */
  async list(userId: string): Promise<UserSession[]> {
    const now = Date.now();
    const absoluteTimeoutMs = this.options.absoluteTimeoutMs();
    const sessions: UserSession[] = [];
    for (const stored of await this.options.backend().listByUser(userId)) {
      const data = decodeSession(stored, absoluteTimeoutMs, now);
      if (data) {
        sessions.push({
          sid: stored.sid,
          data,
          expiresAt: stored.expiresAt,
          lastSeenAt: stored.lastSeenAt,
        });
      }
    }
    return sessions.sort(
      (a, b) => (a.data.createdAt ?? 0) - (b.data.createdAt ?? 0) || a.sid.localeCompare(b.sid),
    );
  }

  /** Ends every session of the user except `exceptSid` (the caller's own); resolves to how many. */
  destroyAll(userId: string, exceptSid?: string): Promise<number> {
    return this.options
      .backend()
      .destroyByUser(userId, exceptSid)
      .then((sids) => sids.length);
  }

  /** Ends one session if it belongs to the user; false when it does not (or is gone). */
  async destroy(userId: string, sid: string): Promise<boolean> {
    const backend = this.options.backend();
    const stored = await backend.get(sid);
    if (stored?.userId !== userId) return false;
    await backend.destroy(sid);
    return true;
  }
}
