import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { createHmac } from 'node:crypto';
import { SessionCacheService } from '../session-cache/session-cache.service.js';
import { SettingsService } from '../settings/settings.service.js';
import type { User } from '../users/user.js';
import { newCsrfToken } from './csrf.js';
import { SessionSecrets } from './session-secrets.js';

export interface OwnSession {
  /** An opaque handle, never the session id itself. */
  id: string;
  createdAt: string | null;
  lastSeenAt: string | null;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

/** Starting, ending and listing sessions: the one place that knows what a signed-in session holds. */
@Injectable()
export class AuthSessions {
  constructor(
    private readonly cache: SessionCacheService,
    private readonly secrets: SessionSecrets,
    private readonly settings: SettingsService,
  ) {}

  /**
   * Signs `user` in on this request: a new session id (the old session, and any id an attacker
   * planted, is destroyed: session fixation), a new CSRF token, and a cookie that lives until
   * the absolute timeout. Resolves to the CSRF token.
   */
  async establish(req: Request, user: User): Promise<string> {
    await new Promise<void>((resolve, reject) =>
      req.session.regenerate((error) => (error ? reject(error) : resolve())),
    );
    const now = Date.now();
    const csrfToken = newCsrfToken();
    Object.assign(req.session, {
      userId: user.id,
      username: user.username,
      csrfToken,
      userAgent: (req.headers['user-agent'] ?? '').slice(0, 256),
      ip: req.ip ?? '',
      lastSeenAt: now,
    });
    req.session.cookie.maxAge = this.settings.current.values.session.absoluteTimeoutSeconds * 1000;
    await new Promise<void>((resolve, reject) =>
      req.session.save((error) => (error ? reject(error) : resolve())),
    );
    return csrfToken;
  }

  /**
   * The session's CSRF token, minting one (and so starting an anonymous session) if needed. A
   * new session is saved before the token is handed out: if the store is down the caller gets
   * 503, not a token for a session that was never stored.
   */
  async csrfToken(req: Request): Promise<string> {
    if (req.session.csrfToken) return req.session.csrfToken;
    req.session.csrfToken = newCsrfToken();
    await new Promise<void>((resolve, reject) =>
      req.session.save((error) => (error ? reject(error) : resolve())),
    );
    return req.session.csrfToken;
  }

  async end(req: Request): Promise<void> {
    if (!req.session) return;
    await new Promise<void>((resolve, reject) =>
      req.session.destroy((error) => (error ? reject(error) : resolve())),
    );
  }

  async list(userId: string, currentSid: string): Promise<OwnSession[]> {
    const time = (value: unknown) =>
      typeof value === 'number' ? new Date(value).toISOString() : null;
    const sessions = await this.cache.userSessions.list(userId);
    return sessions
      .map(({ sid, data }) => ({
        id: this.handle(sid),
        createdAt: time(data.createdAt),
        lastSeenAt: time(data.lastSeenAt ?? data.createdAt),
        userAgent: data.userAgent ?? null,
        ip: data.ip ?? null,
        current: sid === currentSid,
      }))
      .sort((a, b) => (b.lastSeenAt ?? '').localeCompare(a.lastSeenAt ?? ''));
  }

  /** Ends the user's session with this handle; false when the user has none with it. */
  async revoke(userId: string, handle: string): Promise<boolean> {
    const sessions = await this.cache.userSessions.list(userId);
    const match = sessions.find(({ sid }) => this.handle(sid) === handle);
    return match ? this.cache.userSessions.destroy(userId, match.sid) : false;
  }

  /** A stable, non-reversible handle for a session id: HMAC under the signing secret. */
  handle(sid: string): string {
    return createHmac('sha256', this.secrets.signing).update(sid).digest('base64url').slice(0, 22);
  }
}
