import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { createHmac } from 'node:crypto';
import { SessionCacheService } from '../session-cache/session-cache.service.js';
import { SettingsService } from '../settings/settings.service.js';
import type { User } from '../users/user.js';
import { AnonymousCsrfTokens, newCsrfToken } from './csrf.js';
import {
  clearCookie,
  cookieAttributes,
  csrfCookieNameFor,
  hasLiveSession,
  readCookie,
} from './session-cookie.js';
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

/**
 * Starting, ending and listing sessions: the one place that knows what a signed-in session
 * holds. Only sign-in (login, setup) stores a session; an anonymous client's CSRF token is a
 * signed double-submit token that stores nothing.
 */
@Injectable()
export class AuthSessions {
  readonly anonymousCsrf: AnonymousCsrfTokens;
  private readonly handleKey: Buffer;

  constructor(
    private readonly cache: SessionCacheService,
    secrets: SessionSecrets,
    private readonly settings: SettingsService,
  ) {
    this.anonymousCsrf = new AnonymousCsrfTokens(secrets.keysFor('anonymous-csrf'));
    this.handleKey = secrets.keysFor('session-handle')[0];
  }

  /**
   * Signs `user` in on this request: a new session id (the old session, and any id an attacker
   * planted, is destroyed: session fixation), a new CSRF token, and a cookie that lives until
   * the absolute timeout. Resolves to the CSRF token.
   */
  async establish(req: Request, res: Response, user: User): Promise<string> {
    await new Promise<void>((resolve, reject) =>
      req.session.regenerate((error) => (error ? reject(error) : resolve())),
    );
    const csrfToken = newCsrfToken();
    Object.assign(req.session, {
      userId: user.id,
      username: user.username,
      csrfToken,
      userAgent: (req.headers['user-agent'] ?? '').slice(0, 256),
      ip: req.ip ?? '',
    });
    req.session.cookie.maxAge = this.settings.current.values.session.absoluteTimeoutSeconds * 1000;
    await new Promise<void>((resolve, reject) =>
      req.session.save((error) => (error ? reject(error) : resolve())),
    );
    // The session's own token replaces the anonymous one from now on.
    if (readCookie(req, csrfCookieNameFor(req)) !== undefined) {
      clearCookie(req, res, csrfCookieNameFor(req));
    }
    return csrfToken;
  }

  /**
   * The CSRF token a client sends on unsafe requests: its live session's, or for an anonymous
   * client the signed token of its CSRF cookie (a new one, and the cookie, when it has none
   * that verifies). Stores nothing either way.
   */
  csrfToken(req: Request, res: Response): string {
    if (hasLiveSession(req) && req.session.csrfToken) return req.session.csrfToken;
    const name = csrfCookieNameFor(req);
    const held = readCookie(req, name);
    if (this.anonymousCsrf.verify(held)) return held;
    const token = this.anonymousCsrf.issue();
    res.cookie(name, token, cookieAttributes(req.secure));
    return token;
  }

  /** Ends the request's live session, if it has one (the session middleware clears the cookie). */
  async end(req: Request): Promise<void> {
    if (!hasLiveSession(req)) return;
    await new Promise<void>((resolve, reject) =>
      req.session.destroy((error) => (error ? reject(error) : resolve())),
    );
  }

  async list(userId: string, currentSid: string): Promise<OwnSession[]> {
    const time = (value: unknown) =>
      typeof value === 'number' ? new Date(value).toISOString() : null;
    const sessions = await this.cache.userSessions.list(userId);
    return sessions
      .map(({ sid, data, lastSeenAt }) => ({
        id: this.handle(sid),
        createdAt: time(data.createdAt),
        lastSeenAt: time(lastSeenAt || data.createdAt),
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

  /**
   * A stable, non-reversible handle for a session id: an HMAC under a key derived for handles
   * alone (never the cookie-signing secret: the handle would then be the cookie's signature).
   */
  handle(sid: string): string {
    return createHmac('sha256', this.handleKey).update(sid).digest('base64url').slice(0, 22);
  }
}
